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

    var typeBox = document.getElementById("type-fields");
    var ta = form.elements.task_params, typeSel = form.elements.job_type;
    var helpers = function () { return typeBox.querySelectorAll("[data-key]"); };

    var show = function (errs, generalMsg, helperErrs) {
      helpers().forEach(function (el) {
        var key = el.getAttribute("data-key"), p = document.getElementById("err-tp-" + key);
        var list = (helperErrs || {})[key] || [];
        p.textContent = list.join(" ");
        if (list.length) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid");
      });
      fields.forEach(function (f) {
        var p = document.getElementById("err-" + f), input = document.getElementById(f);
        var list = errs[f] || [];
        p.textContent = list.join(" ");
        if (list.length) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
      });
      general.textContent = generalMsg || "";
      general.hidden = !generalMsg;
      valid.hidden = !!generalMsg || Object.keys(errs).length > 0 || Object.keys(helperErrs || {}).length > 0;
    };

    // The job type's inputs edit their keys of the JSON editor, which stays
    // what is saved; typing JSON updates them.
    var parsed = function () {
      try {
        var o = JSON.parse(ta.value.trim() || "{}");
        return o && typeof o === "object" && !Array.isArray(o) ? o : null;
      } catch (e) { return null; }
    };
    var fromJSON = function () {
      var obj = parsed();
      if (!obj) return;
      helpers().forEach(function (el) {
        if (el === document.activeElement) return;
        var v = obj[el.getAttribute("data-key")];
        if (v === undefined || v === null) v = "";
        else if (Array.isArray(v)) v = v.join(", ");
        else if (typeof v === "object") v = JSON.stringify(v);
        el.value = String(v);
      });
    };
    var toJSON = function (el) {
      var obj = parsed();
      if (!obj) return;
      var key = el.getAttribute("data-key"), kind = el.getAttribute("data-kind"), v = el.value.trim();
      if (v === "") delete obj[key];
      else if (kind === "number" && /^-?[0-9]+(\.[0-9]+)?$/.test(v)) obj[key] = Number(v);
      else if (kind === "list") obj[key] = v.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
      else obj[key] = v;
      ta.value = JSON.stringify(obj, null, 2);
    };
    var showFields = function () {
      typeBox.querySelectorAll(".field").forEach(function (f) { f.remove(); });
      var tpl = document.getElementById("fields-" + typeSel.value);
      typeBox.hidden = !tpl;
      if (tpl) { typeBox.appendChild(tpl.content.cloneNode(true)); fromJSON(); }
    };
    var onHelper = function (e) { if (e.target.hasAttribute("data-key")) toJSON(e.target); };
    typeBox.addEventListener("input", onHelper);
    typeBox.addEventListener("change", onHelper);
    ta.addEventListener("input", fromJSON);

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
        var gen = "", helperErrs = {};
        if (res.status !== 200) {
          var problems = res.body.problems || [];
          problems.forEach(function (line) {
            var m = /^([a-z_]+)/.exec(line), f = m ? m[1] : "";
            var h = /^task_params(?:: |\.)([a-z_]+)\b/.exec(line);
            if (h && document.getElementById("err-tp-" + h[1])) { (helperErrs[h[1]] = helperErrs[h[1]] || []).push(line); return; }
            if (f === "schedule") f = "task_params";
            if (fields.indexOf(f) < 0) { gen += line + " "; return; }
            if (local[f]) return;
            (errs[f] = errs[f] || []).push(line);
          });
          if (!problems.length) gen = res.body.error || ("HTTP " + res.status);
        }
        show(errs, gen.trim(), helperErrs);
      }).catch(function () { /* the service is unreachable: the save will say */ });
    };

    var later = function () { clearTimeout(timer); timer = setTimeout(check, 300); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);

    // A new schedule: changing the job type offers its example.
    var examples = {};
    var tpl = document.getElementById("examples");
    if (tpl) tpl.content.querySelectorAll("textarea").forEach(function (t) { examples[t.getAttribute("data-type")] = t.value; });
    var lastType = typeSel.value;
    typeSel.addEventListener("change", function () {
      var cur = ta.value.trim();
      if (form.getAttribute("action") === "/schedules" && (cur === "" || cur === (examples[lastType] || "").trim())) {
        ta.value = examples[typeSel.value] || "{}";
      }
      lastType = typeSel.value;
      showFields();
    });
    showFields();
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
