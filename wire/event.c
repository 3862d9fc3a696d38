#include "wire/event.h"

const char *wire_field_sql_type(wire_field_type t)
{
    switch (t) {
    case WIRE_F_TEXT: return "text";
    case WIRE_F_INT4: return "integer";
    case WIRE_F_INT8: return "bigint";
    case WIRE_F_REAL4: return "real";
    case WIRE_F_REAL8: return "double precision";
    case WIRE_F_BOOL: return "boolean";
    case WIRE_F_TS_US: return "timestamptz";
    }
    return "?";
}
