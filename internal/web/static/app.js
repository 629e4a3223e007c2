// scheduler dashboard: live refresh, the schedule form's validation as the
// user types, and the chart's hover read-out. No dependencies.
(function () {
  "use strict";

  // Live regions: refetch the page and swap the region, while the tab is
  // visible and the user is not working inside it.
  document.querySelectorAll("[data-live]").forEach(function (el) {
    var every = parseInt(el.getAttribute("data-live"), 10) || 5000;
    setInterval(function () {
      if (document.hidden || el.contains(document.activeElement)) return;
      fetch(location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById(el.id);
          if (fresh) el.innerHTML = fresh.innerHTML;
        })
        .catch(function () { /* offline for a moment: keep the page */ });
    }, every);
  });

  // Schedule form.
  var form = document.getElementById("schedule-form");
  if (form) {
    var fields = ["name", "user_id", "job_type", "target", "cron", "timezone", "task_params"];
    var general = document.getElementById("err-general");
    var valid = document.getElementById("valid");
    var timer = null, seq = 0;

    var show = function (errs, generalMsg) {
      fields.forEach(function (f) {
        var p = document.getElementById("err-" + f), input = document.getElementById(f);
        var list = errs[f] || [];
        p.textContent = list.join(" ");
        if (list.length) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
      });
      general.textContent = generalMsg || "";
      general.hidden = !generalMsg;
      valid.hidden = !!generalMsg || Object.keys(errs).length > 0;
    };

    var check = function () {
      var errs = {}, local = {};
      var body = {
        name: form.elements.name.value, job_type: form.elements.job_type.value,
        target: form.elements.target.value, cron: form.elements.cron.value,
        timezone: form.elements.timezone.value.trim(), enabled: form.elements.enabled.checked
      };
      var uid = form.elements.user_id.value.trim();
      if (/^[0-9]+$/.test(uid)) body.user_id = parseInt(uid, 10);
      else if (uid !== "") { local.user_id = true; errs.user_id = ["user_id: \"" + uid + "\" is not a whole number"]; }
      var params = form.elements.task_params.value.trim() || "{}";
      try { JSON.parse(params); } catch (e) {
        local.task_params = true;
        errs.task_params = ["task_params: not valid JSON: " + e.message];
        params = "{}";
      }
      var text = JSON.stringify(body);
      text = "{\"task_params\":" + params + "," + text.slice(1);
      var mine = ++seq;
      fetch(form.getAttribute("data-validate"), {
        method: "POST", credentials: "same-origin", body: text,
        headers: { "Content-Type": "application/json", "X-CSRF-Token": form.getAttribute("data-csrf") }
      }).then(function (r) {
        if (!r.ok) return { status: r.status, answer: { error: "HTTP " + r.status } };
        return r.json();
      }).then(function (v) {
        if (mine !== seq) return;
        var res = { status: v.status, body: v.answer || {} };
        var gen = "";
        if (res.status !== 200) {
          var problems = res.body.problems || [];
          problems.forEach(function (line) {
            var m = /^([a-z_]+)/.exec(line), f = m ? m[1] : "";
            if (f === "schedule") f = "task_params";
            if (fields.indexOf(f) < 0) { gen += line + " "; return; }
            if (local[f]) return;
            (errs[f] = errs[f] || []).push(line);
          });
          if (!problems.length) gen = res.body.error || ("HTTP " + res.status);
        }
        show(errs, gen.trim());
      }).catch(function () { /* the service is unreachable: the save will say */ });
    };

    var later = function () { clearTimeout(timer); timer = setTimeout(check, 300); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);

    // A new schedule: changing the job type offers its example.
    var examples = {};
    var tpl = document.getElementById("examples");
    if (tpl) tpl.content.querySelectorAll("textarea").forEach(function (t) { examples[t.getAttribute("data-type")] = t.value; });
    var typeSel = form.elements.job_type, lastType = typeSel.value;
    typeSel.addEventListener("change", function () {
      var ta = form.elements.task_params, cur = ta.value.trim();
      if (form.getAttribute("action") === "/schedules" && (cur === "" || cur === (examples[lastType] || "").trim())) {
        ta.value = examples[typeSel.value] || "{}";
      }
      lastType = typeSel.value;
    });
  }

  // Chart: hover or arrow keys show a bar's values.
  var chart = document.querySelector("svg.chart");
  var readout = document.getElementById("readout");
  if (chart && readout) {
    var candles = chart.querySelectorAll("g.c"), sel = -1;
    var pick = function (i) {
      if (sel >= 0) candles[sel].classList.remove("sel");
      sel = Math.max(0, Math.min(candles.length - 1, i));
      candles[sel].classList.add("sel");
      readout.textContent = candles[sel].getAttribute("data-v");
    };
    candles.forEach(function (g, i) { g.addEventListener("mouseenter", function () { pick(i); }); });
    chart.addEventListener("keydown", function (e) {
      if (e.key === "ArrowLeft") { pick(sel < 0 ? candles.length - 1 : sel - 1); e.preventDefault(); }
      if (e.key === "ArrowRight") { pick(sel < 0 ? 0 : sel + 1); e.preventDefault(); }
      if (e.key === "Home") { pick(0); e.preventDefault(); }
      if (e.key === "End") { pick(candles.length - 1); e.preventDefault(); }
    });
    chart.addEventListener("focus", function () { if (sel < 0) pick(candles.length - 1); });
  }
})();
