#include <math.h>

#include "geom/shape.h"

/* Shoelace formula. */
double geom_polygon_area(geom_polygon p)
{
    double twice = 0;
    for (int i = 0; i < p.n; i++) {
        geom_vec a = p.points[i], b = p.points[(i + 1) % p.n];
        twice += a.x * b.y - b.x * a.y;
    }
    return fabs(twice) / 2;
}

double geom_polygon_perimeter(geom_polygon p)
{
    double sum = 0;
    for (int i = 0; i < p.n; i++) {
        geom_vec a = p.points[i], b = p.points[(i + 1) % p.n];
        geom_vec d = {b.x - a.x, b.y - a.y};
        sum += geom_vec_len(d);
    }
    return sum;
}
