// itilflow: small progressive enhancements. Everything works without JavaScript.
(function () {
  "use strict";

  // The incident form: narrow the environments to the chosen system's (the server checks too).
  function narrowEnvironments() {
    var system = document.querySelector("select[data-narrows]");
    if (!system) return;
    var env = document.getElementById(system.getAttribute("data-narrows"));
    var all = Array.prototype.slice.call(env.options).map(function (o) { return [o.value, o.text]; });
    function update() {
      var chosen = system.options[system.selectedIndex];
      var allowed = chosen && chosen.dataset.environments ? chosen.dataset.environments.split(",") : null;
      var keep = env.value;
      env.innerHTML = "";
      all.forEach(function (pair) {
        if (pair[0] === "" || !allowed || allowed.indexOf(pair[0]) >= 0) {
          var o = document.createElement("option");
          o.value = pair[0]; o.text = pair[1];
          env.appendChild(o);
        }
      });
      if (allowed && allowed.indexOf(keep) >= 0) env.value = keep;
      else if (allowed && allowed.length === 1) env.value = allowed[0];
      else if (allowed && allowed.indexOf("production") >= 0) env.value = "production";
    }
    system.addEventListener("change", update);
    update();
  }

  // A form sent once: the button is disabled after the first submit (the server also
  // recognises a repeat by its one-time key).
  function submitOnce() {
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var button = form.querySelector("button[type=submit]");
        if (form.dataset.sent) { event.preventDefault(); return; }
        form.dataset.sent = "1";
        if (button) setTimeout(function () { button.disabled = true; }, 0);
      });
    });
  }

  // The agent queue: keyboard shortcuts, select-all and a refresh every 30 seconds.
  function queue() {
    var table = document.querySelector("table.queue-table");
    if (!table) return;
    var body = table.tBodies[0];
    var current = -1;
    function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr[data-href]")); }
    function mark(index) {
      var list = rows();
      if (!list.length) return;
      current = Math.max(0, Math.min(index, list.length - 1));
      list.forEach(function (r, i) { r.classList.toggle("current", i === current); });
      var link = list[current].querySelector("a");
      if (link) link.focus();
    }
    document.addEventListener("keydown", function (e) {
      var tag = (e.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || e.metaKey || e.ctrlKey || e.altKey) {
        if (e.key === "Escape" && tag === "input") e.target.blur();
        return;
      }
      if (e.key === "j") { mark(current + 1); e.preventDefault(); }
      else if (e.key === "k") { mark(current - 1); e.preventDefault(); }
      else if (e.key === "/") { var q = document.getElementById("q"); if (q) { q.focus(); q.select(); e.preventDefault(); } }
      else if (e.key === "x" && current >= 0) { var box = rows()[current].querySelector("input[type=checkbox]"); if (box) box.checked = !box.checked; }
      else if (e.key === "Enter" && current >= 0 && tag !== "a") { window.location = rows()[current].dataset.href; }
    });
    body.addEventListener("click", function (e) {
      var row = e.target.closest("tr[data-href]");
      if (!row || e.target.closest("a, input, label, button")) return;
      window.location = row.dataset.href;
    });
    var all = table.querySelector("[data-select-all]");
    if (all) all.addEventListener("change", function () {
      body.querySelectorAll("input[name=ticket]").forEach(function (b) { b.checked = all.checked; });
    });
    var url = table.dataset.refresh;
    if (!url || !window.fetch) return;
    setInterval(function () {
      if (document.hidden) return;
      if (body.querySelector("input[name=ticket]:checked")) return; // do not lose a selection
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          body.innerHTML = html;
          if (current >= 0) mark(current);
        })
        .catch(function () {});
    }, 30000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    narrowEnvironments();
    submitOnce();
    queue();
  });
})();
