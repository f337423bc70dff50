#include "squeeze.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

size_t squeeze_roundtrip(const char *text)
{
    uLong n = (uLong)strlen(text) + 1;
    uLongf packed_len = compressBound(n);
    Bytef *packed = malloc(packed_len);
    Bytef *back = malloc(n);
    uLongf back_len = n;
    size_t result = 0;
    if (packed && back && compress(packed, &packed_len, (const Bytef *)text, n) == Z_OK &&
        uncompress(back, &back_len, packed, packed_len) == Z_OK && back_len == n &&
        memcmp(back, text, n) == 0) {
        result = packed_len;
    }
    free(packed);
    free(back);
    return result;
}
