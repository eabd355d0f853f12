/* The handlers of the route table (server/routes.c), by family, and what
 * they share. */
#ifndef OBIA_SERVER_HANDLERS_H
#define OBIA_SERVER_HANDLERS_H

#include "server.h"

/* ---- shared ---------------------------------------------------------------------- */

/* The fields of a catalog row as JSON members (no braces); counts as
 * numbers. */
void json_row_fields(obia_buf *b, int n, const char *const *names, const char *const *v);
/* Whether the request may see the object (accession or UID); 404 sent if
 * not, or if there is none (the two are not told apart). */
bool api_visible(req *r, const char *key);
/* A stored object with ETag and caching (304 when the client has it). */
void respond_object(req *r, const char *hash, const char *content_type);

typedef struct image_req {
    long frame, size;             /* frame 1-based */
    bool window;
    double center, width;
    bool jpeg;
    long quality;
} image_req;

/* frame, size, window=C,W, quality and format (or Accept) of a rendering
 * request; false when answered (400). */
bool api_image_params(req *r, long frames, image_req *ir);
/* A frame of a stored object rendered as PNG or JPEG into out. */
bool api_render(req *r, const char *hash, const image_req *ir, obia_buf *out, obia_error *err);
/* A rendering failure: 404 no pixels, 422 cannot decode, else by kind. */
void respond_render_error(req *r, const obia_error *err);

/* ---- REST API (server/api.c) ------------------------------------------------------- */
void api_index(req *r);
void api_collections(req *r);
void api_collection(req *r);
void api_individual(req *r);
void api_study(req *r);
void api_series(req *r);
void api_image(req *r);
void api_search(req *r);
void api_stats(req *r);
void api_series_thumbnail(req *r);
void api_image_thumbnail(req *r);
void api_render_frame(req *r);
void api_contact_sheet(req *r);

/* ---- DICOMweb (server/qido.c, server/wado.c, server/stow.c) --------------------------- */
void qido_studies(req *r);
void qido_study_series(req *r);
void qido_series(req *r);
void qido_study_instances(req *r);
void qido_series_instances(req *r);
void qido_instances(req *r);

void wado_study(req *r);
void wado_series(req *r);
void wado_instance(req *r);
void wado_study_metadata(req *r);
void wado_series_metadata(req *r);
void wado_instance_metadata(req *r);
void wado_frames(req *r);
void wado_bulkdata(req *r);
void wado_study_rendered(req *r);
void wado_series_rendered(req *r);
void wado_instance_rendered(req *r);
void wado_frames_rendered(req *r);
void wado_study_thumbnail(req *r);
void wado_series_thumbnail(req *r);
void wado_instance_thumbnail(req *r);

bool stow_begin(req *r);
bool stow_body(req *r, const char *data, size_t len);
void stow_done(req *r);

/* ---- static files (server/static.c) ------------------------------------------------------ */
void static_file(req *r);

#endif
