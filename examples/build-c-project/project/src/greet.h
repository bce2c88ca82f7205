#ifndef GREET_H
#define GREET_H
#include <stddef.h>

/* Write "Hello, NAME!" into buf (at most size bytes); returns the length it needs. */
size_t greet(char *buf, size_t size, const char *name);

#endif
