// The landing page: the archive's name, totals and collections, from the REST API.
"use strict";

function cell(row, text, numeric) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (numeric) td.className = "n";
  row.appendChild(td);
}

async function load() {
  const [index, stats, collections] = await Promise.all(
    ["/api", "/api/stats", "/api/collections?limit=1000"].map(async (url) => {
      const r = await fetch(url);
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    }));
  document.getElementById("name").textContent = index.name;
  document.title = index.name;
  const t = stats.totals;
  document.getElementById("totals").textContent =
    `${t.individuals} individuals, ${t.studies} studies, ${t.series} series, ${t.images} images` +
    ` in ${collections.total} collections.`;
  const body = document.querySelector("#collections tbody");
  for (const c of collections.items) {
    const row = document.createElement("tr");
    cell(row, c.accession);
    cell(row, c.title);
    cell(row, c.access);
    for (const k of ["individuals", "studies", "series", "images"]) cell(row, c[k], true);
    body.appendChild(row);
  }
}

load().catch((e) => {
  document.getElementById("totals").textContent = "The archive could not be read: " + e.message;
});
