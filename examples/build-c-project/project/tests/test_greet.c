/* The tests of greet(), printed as TAP: "ok N - name" or "not ok N - name". */
#include <stdio.h>
#include <string.h>
#include "greet.h"

static int count, failed;

static void check(int ok, const char *name) {
  printf("%sok %d - %s\n", ok ? "" : "not ", ++count, name);
  failed += !ok;
}

int main(void) {
  char buf[64];
  greet(buf, sizeof buf, "joe");
  check(strcmp(buf, "Hello, joe!") == 0, "greets by name");
  greet(buf, sizeof buf, NULL);
  check(strcmp(buf, "Hello, world!") == 0, "greets the world without a name");
  check(greet(buf, 4, "joe") == strlen("Hello, joe!"), "says the length it needs");
  check(strlen(buf) == 3, "never writes past the buffer");
  printf("1..%d\n", count);
  return failed != 0;
}
