/* What the DICOMweb handlers (QIDO-RS, WADO-RS, STOW-RS) share. */
#ifndef OBIA_SERVER_DICOMWEB_H
#define OBIA_SERVER_DICOMWEB_H

#include "server.h"

/* One attribute as DICOM JSON ("GGGGEEEE":{"vr":..,"Value":[..]}) from
 * catalog text (multiple values separated by backslash), its VR from the
 * dictionary; *first: no comma before it. */
void dicomweb_attr(obia_buf *b, bool *first, uint32_t tag, const char *value);
/* Whether the client takes DICOM JSON; 406 sent if not. */
bool dicomweb_accepts_json(req *r);

#endif
