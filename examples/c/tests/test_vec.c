/* Vector arithmetic of libgeom. */
#include <stdio.h>

#include "geom/vec.h"

int main(void)
{
    geom_vec a = {1, 2}, b = {3, 4};
    geom_vec s = geom_vec_add(a, b);
    if (s.x != 4 || s.y != 6) {
        printf("add: got (%g, %g), want (4, 6)\n", s.x, s.y);
        return 1;
    }
    if (geom_vec_dot(a, b) != 11) {
        printf("dot: got %g, want 11\n", geom_vec_dot(a, b));
        return 1;
    }
    if (geom_vec_len(b) != 5) {
        printf("len: got %g, want 5\n", geom_vec_len(b));
        return 1;
    }
    return 0;
}
