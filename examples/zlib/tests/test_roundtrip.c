/* A round trip through zlib gives the text back, smaller. */
#include <stdio.h>
#include <string.h>

#include "squeeze.h"

int main(void)
{
    const char *text = "abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc";
    size_t n = squeeze_roundtrip(text);
    if (n == 0 || n >= strlen(text)) {
        printf("roundtrip: compressed size %zu for %zu bytes\n", n, strlen(text));
        return 1;
    }
    return 0;
}
