-- Loaded by the core before a transport opens when the config has a qemu section (see
-- cijoe.on_transport_open): the package registers the hook that gives a guest's transport
-- the port the guest was given at start, also in runs that never require("qemu").
return require("qemu")
