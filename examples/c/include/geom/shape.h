#ifndef GEOM_SHAPE_H
#define GEOM_SHAPE_H

#include "geom/vec.h"

typedef struct geom_polygon {
    const geom_vec *points;
    int n;
} geom_polygon;

double geom_polygon_area(geom_polygon p);
double geom_polygon_perimeter(geom_polygon p);
const char *geom_version(void);

#endif
