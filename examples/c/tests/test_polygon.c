/* Areas and perimeters of libgeom's polygons. */
#include <stdio.h>

#include "geom/shape.h"

int main(void)
{
    geom_vec tri[] = {{0, 0}, {4, 0}, {0, 3}};
    geom_polygon p = {tri, 3};
    if (geom_polygon_area(p) != 6) {
        printf("area: got %g, want 6\n", geom_polygon_area(p));
        return 1;
    }
    if (geom_polygon_perimeter(p) != 12) {
        printf("perimeter: got %g, want 12\n", geom_polygon_perimeter(p));
        return 1;
    }
    return 0;
}
