# joe built from source on Debian, as `make` builds it; the image runs the built-in
# packages' selftests: docker build -t joe . && docker run --rm joe
# (docker run --rm -v "$PWD:/work" -w /work joe -c cfg.yaml wf.lua runs a workflow).
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc make pkg-config liblua5.4-dev \
      libyaml-dev libssh2-1-dev libssl-dev libedit-dev lua-unit \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY src/ src/
COPY lua/ lua/
COPY packages/ packages/
COPY tools/ tools/
RUN make build/joe && build/joe --version

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends liblua5.4-0 libyaml-0-2 libssh2-1 libedit2 \
      libssl3 lua-unit openssh-client \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/joe /usr/local/bin/joe
RUN useradd --create-home joe
USER joe
WORKDIR /home/joe
ENTRYPOINT ["joe"]
CMD ["selftest"]
