#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "squeeze.h"

int main(int argc, char **argv)
{
    const char *text = argc > 1 ? argv[1] : "la la la la la la la la la la la la la la la la";
    size_t n = squeeze_roundtrip(text);
    printf("zlib %s: %zu bytes of text in %zu compressed\n", zlibVersion(), strlen(text) + 1, n);
    return n ? 0 : 1;
}
