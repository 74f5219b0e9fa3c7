// Polls the import's counters until it is done or failed. No inline script: CSP allows only 'self'.
(function () {
  "use strict";
  var root = document.getElementById("import");
  if (!root) return;
  var url = root.getAttribute("data-status-url");
  var started = root.getAttribute("data-status");
  function set(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = value;
  }
  function show(data) {
    var bar = document.getElementById("import-bar");
    if (data.total !== null) { bar.max = data.total; set("import-total", data.total); }
    bar.value = data.processed;
    set("import-processed", data.processed);
    set("import-imported", data.imported);
    set("import-duplicates", data.duplicates);
    set("import-rejected", data.rejected);
    set("import-status", data.status_label);
    root.setAttribute("data-status", data.status);
    if (data.error) {
      var box = document.getElementById("import-error");
      box.querySelector("span").textContent = data.error;
      box.hidden = false;
    }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        show(data);
        if (data.status === "running") setTimeout(poll, 700);
        // Finished while watched: load the page again, which now lists the lines that were not imported.
        else if (started === "running") window.location.reload();
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (root.getAttribute("data-status") === "running") poll();
})();
