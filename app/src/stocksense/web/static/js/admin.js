/* Polls the current background job and updates the progress display. */
(function () {
  "use strict";
  var section = document.getElementById("job-section");
  var box = document.getElementById("job");
  if (!section || !box) { return; }
  var url = section.getAttribute("data-status-url");
  var timer = null;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function render(job) {
    if (!job) { return; }
    var title = job.kind.charAt(0).toUpperCase() + job.kind.slice(1) + (job.symbol ? " " + job.symbol : "");
    var frag = document.createDocumentFragment();
    var p = el("p");
    p.appendChild(el("strong", { id: "job-title" }, title));
    p.appendChild(document.createTextNode(": "));
    p.appendChild(el("span", { id: "job-status", "class": "status " + job.status }, job.status));
    frag.appendChild(p);
    var prog = el("progress", { id: "job-progress", max: "100", value: String(job.percent), "aria-labelledby": "job-title" },
                  job.percent + "%");
    frag.appendChild(prog);
    frag.appendChild(document.createTextNode(" "));
    frag.appendChild(el("span", { id: "job-percent" }, job.percent + "%"));
    frag.appendChild(el("p", { id: "job-message" }, job.message));
    box.replaceChildren(frag);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        render(body.job);
        if (body.job && (body.job.status === "running" || body.job.status === "queued")) {
          timer = setTimeout(poll, 1000);
        } else { timer = null; }
      })
      .catch(function () { timer = setTimeout(poll, 3000); });
  }
  var status = document.getElementById("job-status");
  if (status && (status.classList.contains("running") || status.classList.contains("queued"))) { poll(); }
})();
