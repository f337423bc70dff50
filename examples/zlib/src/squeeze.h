#ifndef SQUEEZE_H
#define SQUEEZE_H

#include <stddef.h>

/* Compresses then restores text with zlib; returns the compressed size,
 * or 0 if the round trip did not give text back. */
size_t squeeze_roundtrip(const char *text);

#endif
