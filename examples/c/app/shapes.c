#include <stdio.h>

#include "geom/shape.h"

int main(void)
{
    geom_vec square[] = {{0, 0}, {2, 0}, {2, 2}, {0, 2}};
    geom_polygon p = {square, 4};
    printf("geom %s: square area %.1f, perimeter %.1f\n", geom_version(),
           geom_polygon_area(p), geom_polygon_perimeter(p));
    return geom_polygon_area(p) == 4.0 ? 0 : 1;
}
