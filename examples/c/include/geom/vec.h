#ifndef GEOM_VEC_H
#define GEOM_VEC_H

typedef struct geom_vec {
    double x, y;
} geom_vec;

geom_vec geom_vec_add(geom_vec a, geom_vec b);
double geom_vec_dot(geom_vec a, geom_vec b);
double geom_vec_len(geom_vec a);

#endif
