// Drives an obia server with dicomweb-client (the DICOMweb client of OHIF)
// in Node, with xhr2 standing in for the browser's XMLHttpRequest.
//
//   node dicomweb_client.mjs PLAN.json
//
// PLAN.json says where the server is and what to ask:
//   url          the DICOMweb root, e.g. http://127.0.0.1:8080/dicomweb
//   out          a directory for the bytes retrieved (compared by the caller)
//   patientId    a PatientID to filter studies by
//   page         {limit, offset} for a paged study search
//   studies      Study Instance UIDs (metadata, series search, whole study)
//   series       [study, series] pairs (metadata, instance search)
//   instances    [{study, series, sop, frames: [n...], render: bool,
//                  stored: {mediaType, transferSyntaxUID} | null,
//                  bulkdata: bool}]
//   stow         {files: [paths], garbage: text} to upload with
//                storeInstances (the text, when given, as a last part)
//
// Prints one JSON object: what each call returned (UIDs, counts, byte
// lengths, files written, content types) and the errors met, each with
// the request and the HTTP status. Judging is left to the caller. Exit
// status 0 when the plan ran (even with errors recorded), 2 when it could
// not run at all.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const XMLHttpRequest = require('xhr2');
const dwc = require('dicomweb-client');
const clientVersion = require('dicomweb-client/package.json').version;
const xhrVersion = require('xhr2/package.json').version;

globalThis.XMLHttpRequest = XMLHttpRequest;

const TAG = {
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SOPInstanceUID: '00080018',
  SOPClassUID: '00080016',
  PatientID: '00100020',
  Modality: '00080060',
  ModalitiesInStudy: '00080061',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  RetrieveURL: '00081190',
  Rows: '00280010',
  Columns: '00280011',
  NumberOfFrames: '00280008',
  SamplesPerPixel: '00280002',
  BitsAllocated: '00280100',
  TransferSyntaxUID: '00020010',
  PixelData: '7FE00010',
  ReferencedSOPSequence: '00081199',
  FailedSOPSequence: '00081198',
  ReferencedSOPInstanceUID: '00081155',
  ReferencedSOPClassUID: '00081150',
  WarningReason: '00081196',
  FailureReason: '00081197',
};

function value(ds, tag) {
  const el = ds && ds[tag];
  if (!el || !Array.isArray(el.Value) || el.Value.length === 0) return null;
  const v = el.Value[0];
  if (v && typeof v === 'object' && 'Alphabetic' in v) return v.Alphabetic;
  return v;
}

function values(ds, tag) {
  const el = ds && ds[tag];
  return el && Array.isArray(el.Value) ? el.Value : [];
}

function bytesOf(part) {
  if (part instanceof ArrayBuffer) return new Uint8Array(part);
  if (ArrayBuffer.isView(part)) {
    return new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
  }
  throw new Error(`not bytes: ${Object.prototype.toString.call(part)}`);
}

function describeError(e) {
  const out = { message: e && e.message ? e.message : String(e) };
  if (e && e.status !== undefined) out.status = e.status;
  const resp = e && e.response;
  if (typeof resp === 'string') out.body = resp.slice(0, 400);
  else if (resp instanceof ArrayBuffer) out.body = Buffer.from(resp).toString('utf8', 0, 400);
  else if (resp && typeof resp === 'object') out.body = JSON.stringify(resp).slice(0, 400);
  return out;
}

async function main() {
  const planPath = process.argv[2];
  if (!planPath) {
    process.stderr.write('usage: node dicomweb_client.mjs PLAN.json\n');
    process.exit(2);
  }
  const plan = JSON.parse(fs.readFileSync(planPath, 'utf8'));
  const out = plan.out;
  const dirs = ['instances', 'frames', 'stored-frames', 'rendered', 'thumbnails', 'bulkdata',
    'series', 'study', 'stow'];
  for (const sub of dirs) fs.mkdirSync(path.join(out, sub), { recursive: true });
  const client = new dwc.api.DICOMwebClient({ url: plan.url, verbose: false });

  const summary = {
    client: `dicomweb-client ${clientVersion}`,
    transport: `node ${process.versions.node} with xhr2 ${xhrVersion}`,
    errors: [],
    calls: 0,
  };
  const started = Date.now();

  // Runs one client call; a failure is recorded and gives null.
  async function call(what, fn) {
    summary.calls += 1;
    try {
      return await fn();
    } catch (e) {
      summary.errors.push({ call: what, ...describeError(e) });
      return null;
    }
  }

  // ---- QIDO-RS ------------------------------------------------------------
  const studyRow = (s) => ({
    study: value(s, TAG.StudyInstanceUID),
    patientId: value(s, TAG.PatientID),
    modalities: values(s, TAG.ModalitiesInStudy),
    nseries: value(s, TAG.NumberOfStudyRelatedSeries),
    ninstances: value(s, TAG.NumberOfStudyRelatedInstances),
    retrieveUrl: value(s, TAG.RetrieveURL),
  });
  const seriesRow = (s) => ({
    study: value(s, TAG.StudyInstanceUID),
    series: value(s, TAG.SeriesInstanceUID),
    modality: value(s, TAG.Modality),
    ninstances: value(s, TAG.NumberOfSeriesRelatedInstances),
    retrieveUrl: value(s, TAG.RetrieveURL),
  });
  const instanceRow = (s) => ({
    study: value(s, TAG.StudyInstanceUID),
    series: value(s, TAG.SeriesInstanceUID),
    sop: value(s, TAG.SOPInstanceUID),
    sopClass: value(s, TAG.SOPClassUID),
    rows: value(s, TAG.Rows),
    columns: value(s, TAG.Columns),
    retrieveUrl: value(s, TAG.RetrieveURL),
  });

  const qido = {};
  let r = await call('searchForStudies', () => client.searchForStudies());
  qido.studies = r ? r.map(studyRow) : null;
  r = await call('searchForStudies limit=1000', () =>
    client.searchForStudies({ queryParams: { limit: 1000 } }));
  qido.studiesLimit1000 = r ? r.map(studyRow) : null;
  r = await call(`searchForStudies PatientID=${plan.patientId}`, () =>
    client.searchForStudies({ queryParams: { PatientID: plan.patientId } }));
  qido.studiesOfPatient = r ? r.map(studyRow) : null;
  r = await call('searchForStudies PatientID=NO-SUCH-PATIENT', () =>
    client.searchForStudies({ queryParams: { PatientID: 'NO-SUCH-PATIENT' } }));
  qido.studiesOfNobody = r ? r.map(studyRow) : null;
  r = await call(`searchForStudies limit=${plan.page.limit} offset=${plan.page.offset}`, () =>
    client.searchForStudies({ queryParams: { limit: plan.page.limit, offset: plan.page.offset } }));
  qido.studiesPage = r ? r.map(studyRow) : null;
  r = await call('searchForSeries', () => client.searchForSeries());
  qido.series = r ? r.map(seriesRow) : null;
  r = await call('searchForInstances', () => client.searchForInstances());
  qido.instances = r ? r.map(instanceRow) : null;
  qido.seriesOfStudy = {};
  qido.instancesOfStudy = {};
  for (const study of plan.studies) {
    r = await call(`searchForSeries study=${study}`, () =>
      client.searchForSeries({ studyInstanceUID: study }));
    qido.seriesOfStudy[study] = r ? r.map(seriesRow) : null;
    r = await call(`searchForInstances study=${study}`, () =>
      client.searchForInstances({ studyInstanceUID: study }));
    qido.instancesOfStudy[study] = r ? r.map(instanceRow) : null;
  }
  qido.instancesOfSeries = {};
  for (const [study, series] of plan.series) {
    r = await call(`searchForInstances series=${series}`, () =>
      client.searchForInstances({ studyInstanceUID: study, seriesInstanceUID: series }));
    qido.instancesOfSeries[series] = r ? r.map(instanceRow) : null;
  }
  summary.qido = qido;

  // ---- WADO-RS metadata -----------------------------------------------------
  const metaRow = (m) => ({
    study: value(m, TAG.StudyInstanceUID),
    series: value(m, TAG.SeriesInstanceUID),
    sop: value(m, TAG.SOPInstanceUID),
    patientId: value(m, TAG.PatientID),
    rows: value(m, TAG.Rows),
    columns: value(m, TAG.Columns),
    frames: value(m, TAG.NumberOfFrames),
    samples: value(m, TAG.SamplesPerPixel),
    bits: value(m, TAG.BitsAllocated),
    transferSyntax: value(m, TAG.TransferSyntaxUID),
    pixelBulkDataURI: m[TAG.PixelData] ? m[TAG.PixelData].BulkDataURI || null : null,
    pixelInline: !!(m[TAG.PixelData] && m[TAG.PixelData].InlineBinary),
  });
  // Pixel Data given inline, kept out of the summary
  const inlinePixels = {};
  const meta = { study: {}, series: {}, instance: {} };
  for (const study of plan.studies) {
    r = await call(`retrieveStudyMetadata ${study}`, () =>
      client.retrieveStudyMetadata({ studyInstanceUID: study }));
    meta.study[study] = r ? r.map(metaRow) : null;
  }
  for (const [study, series] of plan.series) {
    r = await call(`retrieveSeriesMetadata ${series}`, () =>
      client.retrieveSeriesMetadata({ studyInstanceUID: study, seriesInstanceUID: series }));
    meta.series[series] = r ? r.map(metaRow) : null;
  }
  for (const inst of plan.instances) {
    r = await call(`retrieveInstanceMetadata ${inst.sop}`, () =>
      client.retrieveInstanceMetadata({
        studyInstanceUID: inst.study, seriesInstanceUID: inst.series, sopInstanceUID: inst.sop,
      }));
    meta.instance[inst.sop] = r ? r.map(metaRow) : null;
    if (r && r[0] && r[0][TAG.PixelData] && r[0][TAG.PixelData].InlineBinary) {
      inlinePixels[inst.sop] = r[0][TAG.PixelData].InlineBinary;
    }
  }
  summary.metadata = meta;

  // ---- WADO-RS instances, frames, rendered, bulk data -----------------------
  const ids = (inst) => ({
    studyInstanceUID: inst.study, seriesInstanceUID: inst.series, sopInstanceUID: inst.sop,
  });
  summary.instances = {};
  summary.instancesAnySyntax = {};
  summary.frames = {};
  summary.storedFrames = {};
  summary.negotiatedFrames = {};
  summary.rendered = {};
  summary.renderedPng = {};
  summary.thumbnails = {};
  summary.bulkdata = {};
  let bytesRetrieved = 0;
  // Writes the parts of a frames answer to files, one a frame.
  const saveFrames = (parts, inst, dir, suffix) => parts.map((part, i) => {
    const b = bytesOf(part);
    const file = path.join(out, dir, `${inst.sop}_${inst.frames[i]}${suffix}`);
    fs.writeFileSync(file, b);
    bytesRetrieved += b.length;
    return {
      frame: inst.frames[i],
      bytes: b.length,
      file,
      contentType: part.contentType || null,
      transferSyntaxUID: part.transferSyntaxUID || null,
    };
  });
  for (const inst of plan.instances) {
    // as OHIF asks: no media type (multipart/related; type="application/dicom")
    r = await call(`retrieveInstance ${inst.sop}`, () => client.retrieveInstance(ids(inst)));
    if (r) {
      const b = bytesOf(r);
      const file = path.join(out, 'instances', `${inst.sop}.dcm`);
      fs.writeFileSync(file, b);
      bytesRetrieved += b.length;
      summary.instances[inst.sop] = { file, bytes: b.length };
    }
    // transfer-syntax=* (as stored, whatever it is). retrieveInstance
    // refuses mediaTypes for application/dicom in this version of the
    // client (its _getCommonMediaType gives "application/"), so the request
    // goes through the method retrieveInstance itself calls.
    if (inst.anySyntax) {
      const url = `${client.wadoURL}/studies/${inst.study}/series/${inst.series}`
        + `/instances/${inst.sop}`;
      r = await call(`retrieveInstance ${inst.sop} transfer-syntax=*`, () =>
        client._httpGetMultipartApplicationDicom(
          url, [{ mediaType: 'application/dicom', transferSyntaxUID: '*' }], false, {},
        ).then((parts) => parts[0]));
      if (r) {
        const b = bytesOf(r);
        const file = path.join(out, 'instances', `${inst.sop}.any.dcm`);
        fs.writeFileSync(file, b);
        bytesRetrieved += b.length;
        summary.instancesAnySyntax[inst.sop] = { file, bytes: b.length };
      }
    }
    if (inst.frames && inst.frames.length) {
      // no media type: application/octet-stream, i.e. decoded to Explicit VR Little Endian
      r = await call(`retrieveInstanceFrames ${inst.sop} ${inst.frames}`, () =>
        client.retrieveInstanceFrames({ ...ids(inst), frameNumbers: inst.frames }));
      if (r) summary.frames[inst.sop] = saveFrames(r, inst, 'frames', '.raw');
    }
    if (inst.stored) {
      const { mediaType, transferSyntaxUID } = inst.stored;
      r = await call(`retrieveInstanceFrames ${inst.sop} ${inst.frames} as ${mediaType} `
        + `transfer-syntax=${transferSyntaxUID}`, () => client.retrieveInstanceFrames({
        ...ids(inst), frameNumbers: inst.frames, mediaTypes: [inst.stored],
      }));
      if (r) summary.storedFrames[inst.sop] = saveFrames(r, inst, 'stored-frames', '.bin');
    }
    if (inst.stored) {
      // two acceptable types, the first one the server cannot give for
      // most instances (JPEG-LS lossless): it must fall back to the second
      const mediaTypes = [
        { mediaType: 'image/jls', transferSyntaxUID: '1.2.840.10008.1.2.4.80' },
        { mediaType: 'application/octet-stream', transferSyntaxUID: '*' },
      ];
      r = await call(`retrieveInstanceFrames ${inst.sop} ${inst.frames} as image/jls `
        + '(JPEG-LS lossless) or application/octet-stream transfer-syntax=*', () =>
        client.retrieveInstanceFrames({ ...ids(inst), frameNumbers: inst.frames, mediaTypes }));
      if (r) {
        summary.negotiatedFrames[inst.sop] = saveFrames(r, inst, 'stored-frames', '.either.bin');
      }
    }
    if (inst.render) {
      // no media type (no Accept header): the server's choice
      r = await call(`retrieveInstanceRendered ${inst.sop}`, () =>
        client.retrieveInstanceRendered(ids(inst)));
      if (r) {
        const b = bytesOf(Array.isArray(r) ? r[0] : r);
        const file = path.join(out, 'rendered', `${inst.sop}.img`);
        fs.writeFileSync(file, b);
        summary.rendered[inst.sop] = { file, bytes: b.length };
      }
      r = await call(`retrieveInstanceRendered ${inst.sop} image/png`, () =>
        client.retrieveInstanceRendered({ ...ids(inst), mediaTypes: [{ mediaType: 'image/png' }] }));
      if (r) {
        const b = bytesOf(Array.isArray(r) ? r[0] : r);
        const file = path.join(out, 'rendered', `${inst.sop}.png`);
        fs.writeFileSync(file, b);
        summary.renderedPng[inst.sop] = { file, bytes: b.length };
      }
    }
    if (inst.thumbnail) {
      r = await call(`retrieveInstanceThumbnail ${inst.sop}`, () =>
        client.retrieveInstanceThumbnail({ ...ids(inst), mediaTypes: [{ mediaType: 'image/png' }] }));
      if (r) {
        const b = bytesOf(Array.isArray(r) ? r[0] : r);
        const file = path.join(out, 'thumbnails', `${inst.sop}.png`);
        fs.writeFileSync(file, b);
        summary.thumbnails[inst.sop] = { file, bytes: b.length };
      }
    }
    if (inst.bulkdata) {
      const m = meta.instance[inst.sop];
      const uri = m && m[0] ? m[0].pixelBulkDataURI : null;
      const inline = inlinePixels[inst.sop];
      if (!uri && inline) {
        // a small value comes inline (PS3.18 F.2.7): the bytes are in the metadata
        const b = Buffer.from(inline, 'base64');
        const file = path.join(out, 'bulkdata', `${inst.sop}.raw`);
        fs.writeFileSync(file, b);
        summary.bulkdata[inst.sop] = { uri: null, inline: true, file, parts: 1, bytes: b.length };
      } else if (!uri) {
        summary.errors.push({
          call: `retrieveBulkData ${inst.sop}`,
          message: 'the metadata has neither BulkDataURI nor InlineBinary for Pixel Data',
        });
      } else {
        r = await call(`retrieveBulkData ${uri}`, () => client.retrieveBulkData({ BulkDataURI: uri }));
        if (r) {
          const parts = r.map(bytesOf);
          const file = path.join(out, 'bulkdata', `${inst.sop}.raw`);
          fs.writeFileSync(file, Buffer.concat(parts.map((p) => Buffer.from(p))));
          const bytes = parts.reduce((a, p) => a + p.length, 0);
          summary.bulkdata[inst.sop] = { uri, file, parts: parts.length, bytes };
        }
      }
    }
  }

  // whole series and a whole study, multipart
  summary.seriesRetrieved = {};
  for (const [study, series] of plan.retrieveSeries || []) {
    r = await call(`retrieveSeries ${series}`, () =>
      client.retrieveSeries({ studyInstanceUID: study, seriesInstanceUID: series }));
    if (r) {
      summary.seriesRetrieved[series] = r.map((part, i) => {
        const b = bytesOf(part);
        const file = path.join(out, 'series', `${series}_${i}.dcm`);
        fs.writeFileSync(file, b);
        bytesRetrieved += b.length;
        return { file, bytes: b.length };
      });
    }
  }
  summary.studyRetrieved = {};
  for (const study of plan.retrieveStudy || []) {
    r = await call(`retrieveStudy ${study}`, () => client.retrieveStudy({ studyInstanceUID: study }));
    if (r) {
      summary.studyRetrieved[study] = r.map((part, i) => {
        const b = bytesOf(part);
        const file = path.join(out, 'study', `${study}_${i}.dcm`);
        fs.writeFileSync(file, b);
        bytesRetrieved += b.length;
        return { file, bytes: b.length };
      });
    }
  }

  // ---- STOW-RS ----------------------------------------------------------------
  if (plan.stow && plan.stow.files && plan.stow.files.length) {
    const datasets = plan.stow.files.map((f) => {
      const b = fs.readFileSync(f);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    });
    // and, last, a part that is no DICOM at all: it must come back failed
    if (plan.stow.garbage) {
      datasets.push(new TextEncoder().encode(plan.stow.garbage).buffer);
    }
    const stow = { files: plan.stow.files, referenced: [], failed: [], found: {}, retrieved: {} };
    r = await call('storeInstances', () => client.storeInstances({ datasets }));
    if (r !== null) {
      let resp = r;
      if (typeof resp === 'string') {
        try {
          resp = JSON.parse(resp);
        } catch (e) {
          summary.errors.push({
            call: 'storeInstances', message: `response is not JSON: ${resp.slice(0, 300)}`,
          });
          resp = {};
        }
      } else if (resp instanceof ArrayBuffer) {
        resp = JSON.parse(Buffer.from(resp).toString('utf8'));
      }
      const item = (it) => ({
        sopClass: value(it, TAG.ReferencedSOPClassUID),
        sop: value(it, TAG.ReferencedSOPInstanceUID),
        retrieveUrl: value(it, TAG.RetrieveURL),
        warningReason: value(it, TAG.WarningReason),
        failureReason: value(it, TAG.FailureReason),
      });
      stow.referenced = values(resp, TAG.ReferencedSOPSequence).map(item);
      stow.failed = values(resp, TAG.FailedSOPSequence).map(item);
      // find each stored instance again: by search, then by its RetrieveURL
      for (const ref of stow.referenced) {
        const m = /\/studies\/([^/]+)\/series\/([^/]+)\/instances\/([^/?]+)$/.exec(ref.retrieveUrl || '');
        if (!m) {
          summary.errors.push({
            call: 'storeInstances', message: `RetrieveURL ${ref.retrieveUrl} names no instance`,
          });
          continue;
        }
        const [, study, series, sop] = m;
        ref.stored = { study, series, sop };
        r = await call(`searchForInstances SOPInstanceUID=${sop}`, () =>
          client.searchForInstances({ queryParams: { SOPInstanceUID: sop } }));
        stow.found[sop] = r ? r.map(instanceRow) : null;
        r = await call(`retrieveInstance ${sop} (stored by STOW-RS)`, () =>
          client.retrieveInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop }));
        if (r) {
          const b = bytesOf(r);
          const file = path.join(out, 'stow', `${sop}.dcm`);
          fs.writeFileSync(file, b);
          stow.retrieved[sop] = { file, bytes: b.length };
        }
      }
    }
    r = await call('searchForStudies (after STOW-RS)', () =>
      client.searchForStudies({ queryParams: { limit: 1000 } }));
    stow.studiesAfter = r ? r.map(studyRow) : null;
    r = await call('searchForInstances (after STOW-RS)', () =>
      client.searchForInstances({ queryParams: { limit: 1000 } }));
    stow.instancesAfter = r ? r.map(instanceRow) : null;
    summary.stow = stow;
  }

  summary.bytesRetrieved = bytesRetrieved;
  summary.seconds = (Date.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((e) => {
  process.stderr.write(`dicomweb_client.mjs: ${e && e.stack ? e.stack : e}\n`);
  process.exit(2);
});
