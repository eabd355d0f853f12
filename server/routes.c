/* The route table: every endpoint of the server, in dispatch order (first
 * match wins). It drives dispatch, GET /api (the list of endpoints) and the
 * tests. {x} matches one path segment; {*} the rest of the path. */
#include "handlers.h"

#define DW "/dicomweb"
#define ST DW "/studies/{study}"
#define SE ST "/series/{series}"
#define IN SE "/instances/{instance}"

static const route routes[] = {
    /* ---- REST API ---- */
    {"GET", "/api", api_index, NULL, SCOPE_PUBLIC, "this list of endpoints", NULL},
    {"GET", "/api/collections", api_collections, NULL, SCOPE_PUBLIC,
     "collections with their counts (limit, offset)", NULL},
    {"GET", "/api/collections/{accession}", api_collection, NULL, SCOPE_PUBLIC,
     "a collection and a page of its individuals (limit, offset)", NULL},
    {"GET", "/api/individuals/{accession}", api_individual, NULL, SCOPE_PUBLIC,
     "an individual with its clinical data and a page of its studies", NULL},
    {"GET", "/api/studies/{key}", api_study, NULL, SCOPE_PUBLIC,
     "a study (accession or Study Instance UID) and a page of its series", NULL},
    {"GET", "/api/series/{uid}", api_series, NULL, SCOPE_PUBLIC,
     "a series and a page of its images", NULL},
    {"GET", "/api/series/{uid}/thumbnail", api_series_thumbnail, NULL, SCOPE_PUBLIC,
     "the series' thumbnail, PNG (size)", NULL},
    {"GET", "/api/series/{uid}/contact-sheet", api_contact_sheet, NULL, SCOPE_PUBLIC,
     "every image of the series in one PNG (cell, columns)", NULL},
    {"GET", "/api/images/{uid}", api_image, NULL, SCOPE_PUBLIC, "an image", NULL},
    {"GET", "/api/images/{uid}/thumbnail", api_image_thumbnail, NULL, SCOPE_PUBLIC,
     "the image's thumbnail, PNG (size)", NULL},
    {"GET", "/api/images/{uid}/render", api_render_frame, NULL, SCOPE_PUBLIC,
     "a frame as PNG or JPEG (frame, size, window=CENTER,WIDTH, format, quality)", NULL},
    {"GET", "/api/search", api_search, NULL, SCOPE_PUBLIC,
     "series by modality, body_part, sex, age_min, age_max, disease, collection and q, with "
     "facet counts (limit, offset)", NULL},
    {"GET", "/api/stats", api_stats, NULL, SCOPE_PUBLIC,
     "totals and counts per modality, body part, sex, age band, disease and collection", NULL},

    /* ---- DICOMweb: QIDO-RS ---- */
    {"GET", DW "/studies", qido_studies, NULL, SCOPE_PUBLIC, "QIDO-RS: search for studies", NULL},
    {"GET", ST "/series", qido_study_series, NULL, SCOPE_PUBLIC,
     "QIDO-RS: search for the series of a study", NULL},
    {"GET", ST "/instances", qido_study_instances, NULL, SCOPE_PUBLIC,
     "QIDO-RS: search for the instances of a study", NULL},
    {"GET", SE "/instances", qido_series_instances, NULL, SCOPE_PUBLIC,
     "QIDO-RS: search for the instances of a series", NULL},
    {"GET", DW "/series", qido_series, NULL, SCOPE_PUBLIC, "QIDO-RS: search for series", NULL},
    {"GET", DW "/instances", qido_instances, NULL, SCOPE_PUBLIC, "QIDO-RS: search for instances", NULL},

    /* ---- DICOMweb: STOW-RS ---- */
    {"POST", DW "/studies", stow_done, stow_body, SCOPE_UPLOAD,
     "STOW-RS: store instances (multipart/related; type=\"application/dicom\"; collection)",
     stow_begin},
    {"POST", ST, stow_done, stow_body, SCOPE_UPLOAD,
     "STOW-RS: store instances of one study", stow_begin},

    /* ---- DICOMweb: WADO-RS ---- */
    {"GET", ST, wado_study, NULL, SCOPE_PUBLIC, "WADO-RS: a study's instances, multipart", NULL},
    {"GET", ST "/metadata", wado_study_metadata, NULL, SCOPE_PUBLIC,
     "WADO-RS: a study's metadata, DICOM JSON", NULL},
    {"GET", ST "/rendered", wado_study_rendered, NULL, SCOPE_PUBLIC,
     "WADO-RS: a study rendered (its first series' middle image)", NULL},
    {"GET", ST "/thumbnail", wado_study_thumbnail, NULL, SCOPE_PUBLIC,
     "WADO-RS: a study's thumbnail", NULL},
    {"GET", SE, wado_series, NULL, SCOPE_PUBLIC, "WADO-RS: a series' instances, multipart", NULL},
    {"GET", SE "/metadata", wado_series_metadata, NULL, SCOPE_PUBLIC,
     "WADO-RS: a series' metadata, DICOM JSON", NULL},
    {"GET", SE "/rendered", wado_series_rendered, NULL, SCOPE_PUBLIC,
     "WADO-RS: a series rendered (its middle image)", NULL},
    {"GET", SE "/thumbnail", wado_series_thumbnail, NULL, SCOPE_PUBLIC,
     "WADO-RS: a series' thumbnail", NULL},
    {"GET", IN, wado_instance, NULL, SCOPE_PUBLIC, "WADO-RS: an instance, multipart", NULL},
    {"GET", IN "/metadata", wado_instance_metadata, NULL, SCOPE_PUBLIC,
     "WADO-RS: an instance's metadata, DICOM JSON", NULL},
    {"GET", IN "/rendered", wado_instance_rendered, NULL, SCOPE_PUBLIC,
     "WADO-RS: an instance rendered (PNG or JPEG by Accept)", NULL},
    {"GET", IN "/thumbnail", wado_instance_thumbnail, NULL, SCOPE_PUBLIC,
     "WADO-RS: an instance's thumbnail", NULL},
    {"GET", IN "/frames/{frames}", wado_frames, NULL, SCOPE_PUBLIC,
     "WADO-RS: frames (a list, 1-based), native or as stored, multipart", NULL},
    {"GET", IN "/frames/{frames}/rendered", wado_frames_rendered, NULL, SCOPE_PUBLIC,
     "WADO-RS: a frame rendered", NULL},
    {"GET", IN "/bulkdata/{*}", wado_bulkdata, NULL, SCOPE_PUBLIC,
     "WADO-RS: a bulk data value named by a metadata BulkDataURI", NULL},

    /* ---- the web site ---- */
    {"GET", "/{*}", static_file, NULL, SCOPE_PUBLIC, "the web site's files", NULL},
    {"GET", "/", static_file, NULL, SCOPE_PUBLIC, "the web site", NULL},
};

const route *srv_routes(size_t *count)
{
    *count = sizeof routes / sizeof routes[0];
    return routes;
}
