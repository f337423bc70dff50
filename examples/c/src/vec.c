#include <math.h>

#include "geom/vec.h"

geom_vec geom_vec_add(geom_vec a, geom_vec b)
{
    geom_vec r = {a.x + b.x, a.y + b.y};
    return r;
}

double geom_vec_dot(geom_vec a, geom_vec b)
{
    return a.x * b.x + a.y * b.y;
}

double geom_vec_len(geom_vec a)
{
    return sqrt(geom_vec_dot(a, a));
}
