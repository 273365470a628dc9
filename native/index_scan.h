#ifndef BKDR_INDEX_SCAN_H
#define BKDR_INDEX_SCAN_H
#include <node_api.h>

// The scanIndex export of bkdr_blob (index_scan.c).
napi_property_descriptor index_scan_export(void);

#endif
