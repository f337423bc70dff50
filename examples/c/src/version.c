#include "geom/shape.h"

const char *geom_version(void)
{
    return GEOM_VERSION;
}
