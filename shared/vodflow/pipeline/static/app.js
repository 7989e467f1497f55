// vodflow upload page: plain JavaScript, no build step, nothing from a CDN.
// Protocol: POST /uploads (a session: a video, a video with its cover, or a package folder) → PUT each file to
// its presigned URL (parts in parallel) → complete → GET /uploads/{id} gives the job id → GET /jobs/{id}.
// Resume: GET /uploads/{id} says which parts COS has and signs fresh URLs for the rest; only those are sent.
"use strict";
(function () {
  const API = new URL(".", document.baseURI).href;
  const $ = (id) => document.getElementById(id);
  const KEY_TOKEN = "vodflow.token";
  const KEY_OPEN = "vodflow.unfinished";
  const OPTION_NAMES = ["procedure", "class_id", "sub_app_id", "media_name", "storage_region", "source_context"];
  const FINAL = new Set(["committed", "processed", "failed"]);
  const MiB = 1048576;
  const uploads = new Map();

  // -- messages ---------------------------------------------------------------------------------
  function alertMsg(text) {
    const el = $("alert");
    el.textContent = text || "";
    el.hidden = !text;
  }
  function fmtBytes(n) {
    if (n >= 1024 * MiB) return (n / 1024 / MiB).toFixed(2) + " GiB";
    if (n >= MiB) return (n / MiB).toFixed(1) + " MiB";
    if (n >= 1024) return (n / 1024).toFixed(1) + " KiB";
    return n + " B";
  }
  function fmtTime(s) {
    if (!isFinite(s)) return "—";
    s = Math.max(0, Math.round(s));
    return s >= 3600 ? Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min" : s >= 60 ? Math.floor(s / 60) + " min " + (s % 60) + " s" : s + " s";
  }
  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }
  function explain(err) {
    if (err instanceof ApiError) {
      if (err.status === 401 || err.status === 503 && err.code && err.code.indexOf("NoToken") >= 0)
        return "The API token was refused (" + err.code + "): check it and enter it again.";
      if (err.status === 0) return "The network is unreachable: the upload resumes by itself when it is back.";
      return err.message + " (" + err.code + ")";
    }
    return String(err && err.message || err);
  }

  // -- the API ---------------------------------------------------------------------------------
  function token() { return sessionStorage.getItem(KEY_TOKEN) || ""; }
  async function api(method, path, body) {
    let resp;
    try {
      resp = await fetch(API + path.replace(/^\//, ""), {
        method, headers: Object.assign({ Authorization: "Bearer " + token() }, body ? { "Content-Type": "application/json" } : {}),
        body: body ? JSON.stringify(body) : undefined, cache: "no-store",
      });
    } catch (e) { throw new ApiError(0, "Network", "the API could not be reached"); }
    let data = {};
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) {
      const err = new ApiError(resp.status, data.code || "HTTP" + resp.status, data.message || resp.statusText);
      if (resp.status === 401) alertMsg(explain(err));
      throw err;
    }
    return data;
  }

  // -- COS requests (presigned URLs) -------------------------------------------------------------
  function cosRequest(method, url, body, headers, onProgress, up) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
      if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => {
        up && up.xhrs.delete(xhr);
        if (xhr.status >= 200 && xhr.status < 300 && xhr.responseText.indexOf("<Error>") < 0) resolve(xhr);
        else {
          const code = (xhr.responseText.match(/<Code>([^<]*)<\/Code>/) || [])[1] || "HTTP" + xhr.status;
          const msg = (xhr.responseText.match(/<Message>([^<]*)<\/Message>/) || [])[1] || "";
          reject(Object.assign(new Error(code + ": " + msg), { cos: code, status: xhr.status, expired: /expired/i.test(msg) || code === "ExpiredToken" }));
        }
      };
      xhr.onerror = () => { up && up.xhrs.delete(xhr); reject(Object.assign(new Error("network"), { network: true })); };
      xhr.onabort = () => { up && up.xhrs.delete(xhr); reject(Object.assign(new Error("aborted"), { aborted: true })); };
      up && up.xhrs.add(xhr);
      xhr.send(body);
    });
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const quoteEtag = (e) => '"' + String(e || "").replace(/"/g, "") + '"';

  // -- unfinished uploads (this browser remembers them; the server knows their parts) -------------
  function openList() { try { return JSON.parse(localStorage.getItem(KEY_OPEN) || "[]"); } catch (e) { return []; } }
  function saveOpen(rec) { const l = openList().filter((r) => r.upload_id !== rec.upload_id); l.push(rec); localStorage.setItem(KEY_OPEN, JSON.stringify(l)); }
  function dropOpen(id) { localStorage.setItem(KEY_OPEN, JSON.stringify(openList().filter((r) => r.upload_id !== id))); renderOpen(); }

  // -- one upload session -------------------------------------------------------------------------
  class Upload {
    constructor(label, kind) {
      this.label = label; this.kind = kind; this.xhrs = new Set(); this.paused = false; this.cancelled = false;
      this.sent = 0; this.total = 0; this.samples = []; this.files = []; this.id = null; this.done = false;
      this.render();
    }
    render() {
      const li = document.createElement("li");
      const n = uploads.size + 1;
      li.innerHTML = '<div class="name"></div><label class="sr" for="p' + n + '">Progress</label><progress id="p' + n + '" max="100" value="0"></progress>' +
        '<div class="stats" aria-live="off"></div><div class="actions">' +
        '<button type="button" class="secondary pause">Pause</button><button type="button" class="secondary resume" hidden>Resume</button>' +
        '<button type="button" class="secondary cancel">Cancel</button></div><p class="status" role="status"></p><div class="result"></div>';
      li.querySelector(".name").textContent = this.label;
      li.querySelector(".pause").setAttribute("aria-label", "Pause " + this.label);
      li.querySelector(".resume").setAttribute("aria-label", "Resume " + this.label);
      li.querySelector(".cancel").setAttribute("aria-label", "Cancel " + this.label);
      li.querySelector(".pause").onclick = () => this.pause();
      li.querySelector(".resume").onclick = () => this.resume();
      li.querySelector(".cancel").onclick = () => this.cancel();
      $("uploads").prepend(li);
      this.el = li;
      uploads.set(li, this);
    }
    status(text, cls) { const p = this.el.querySelector(".status"); p.textContent = text; p.className = "status " + (cls || ""); }
    progress() {
      const now = performance.now();
      this.samples.push([now, this.sent]);
      while (this.samples.length > 2 && now - this.samples[0][0] > 5000) this.samples.shift();
      const [t0, b0] = this.samples[0];
      const speed = now > t0 ? (this.sent - b0) / ((now - t0) / 1000) : 0;
      const pct = this.total ? Math.min(100, (100 * this.sent) / this.total) : 0;
      const bar = this.el.querySelector("progress");
      bar.value = pct; bar.setAttribute("aria-valuetext", pct.toFixed(0) + " percent");
      this.el.querySelector(".stats").textContent = fmtBytes(this.sent) + " of " + fmtBytes(this.total) + " · " +
        (speed > 0 ? fmtBytes(speed) + "/s · " + fmtTime((this.total - this.sent) / speed) + " left" : "—");
    }
    buttons(state) {
      const q = (c) => this.el.querySelector(c);
      q(".pause").hidden = state !== "running"; q(".resume").hidden = state !== "paused";
      q(".cancel").hidden = state === "final";
    }
    remember() {
      saveOpen({ upload_id: this.id, label: this.label, kind: this.kind, created: Date.now(),
        files: this.files.map((f) => ({ name: f.name, size: f.size, key: f.key })) });
    }

    // Start: the session's files (a video, a video + cover, or a package) → POST /uploads.
    async start(body, files) {
      this.status("Asking the API for an upload…");
      const reply = await api("POST", "/uploads", body);
      this.id = reply.upload_id;
      const entries = reply.files || [Object.assign({ name: body.filename, role: "video" }, reply)];
      this.files = entries.map((e) => ({ name: e.name, key: e.key, size: e.size, file: files.get(e.name), grant: e }));
      this.el.querySelector(".name").textContent = this.label + " · upload " + this.id;
      this.remember();
      await this.run(false);
    }

    // Resume: ask the server what it has, send the rest.
    async attach(id, files) {
      this.id = id;
      this.status("Asking the API which parts the cloud already has…");
      const st = await api("GET", "/uploads/" + id);
      const entries = st.files || [Object.assign({ name: st.key.split("/").pop(), role: "video" }, st)];
      this.files = entries.map((e) => ({ name: e.name, key: e.key, size: e.size, file: files.get(e.name), grant: e }));
      const missing = this.files.filter((f) => f.grant.state === "pending" && !f.file).map((f) => f.name);
      if (missing.length) throw new Error("Choose these files too: " + missing.join(", "));
      this.el.querySelector(".name").textContent = this.label + " · upload " + this.id;
      await this.run(true);
    }

    async run(fresh) {
      this.buttons("running");
      this.total = this.files.reduce((a, f) => a + f.size, 0);
      try {
        if (fresh) {  // one GET for the whole session: each file's state, parts in the cloud, fresh URLs
          const st = await api("GET", "/uploads/" + this.id);
          for (const f of this.files) f.grant = st.files ? st.files.find((x) => x.key === f.key) || {} : st;
        }
        for (const f of this.files) {
          if (this.cancelled) return;
          await this.sendFile(f);
        }
        this.done = true;
        this.buttons("final");
        dropOpen(this.id);
        this.sent = this.total; this.progress();
        await this.follow();
      } catch (e) {
        if (e.aborted && (this.paused || this.cancelled)) return;
        this.status(explain(e), "error");
        this.buttons("paused"); this.paused = true;
      }
    }

    // One file: a single PUT or its missing parts in parallel, then Complete.
    async sendFile(f) {
      let g = f.grant;
      if (!g.state && !g.url && !g.parts) g = f.grant = await this.fresh(f);
      if (g.state === "staged") { this.sent += f.size; this.progress(); return; }
      if (g.state === "cancelled" || g.state === "aborted") throw new Error("This upload was " + g.state + "; start a new one.");
      if (g.mode === "put") {
        this.status("Sending " + f.name + "…");
        const base = this.sent;
        await this.withRetry(f, async () => {
          await cosRequest("PUT", f.grant.url, f.file, f.grant.headers, (n) => { this.sent = base + n; this.progress(); }, this);
        });
        this.sent = base + f.size; this.progress();
        return;
      }
      const done = new Map((g.parts_uploaded || []).map((p) => [p.number, p.etag]));
      let doneBytes = (g.parts_uploaded || []).reduce((a, p) => a + p.size, 0);
      this.sent += doneBytes; this.progress();
      const urls = new Map((g.parts || []).map((p) => [p.number, p.url]));
      const todo = [];
      for (let n = 1; n <= g.parts_total; n++) if (!done.has(n)) todo.push(n);
      this.status("Sending " + f.name + ": " + todo.length + " of " + g.parts_total + " parts" + (done.size ? " (" + done.size + " already in the cloud)" : "") + "…");
      const inflight = new Map();
      const width = Math.max(1, Math.min(16, parseInt($("parallel").value, 10) || 4));
      const worker = async () => {
        while (todo.length) {
          if (this.paused || this.cancelled) throw Object.assign(new Error("aborted"), { aborted: true });
          const n = todo.shift();
          const start = (n - 1) * g.part_size, end = Math.min(f.size, start + g.part_size);
          await this.withRetry(f, async () => {
            if (!urls.has(n)) { const st = await this.fresh(f); for (const p of st.parts || []) urls.set(p.number, p.url); }
            const xhr = await cosRequest("PUT", urls.get(n), f.file.slice(start, end), {}, (b) => { inflight.set(n, b); this.sent = sum(); this.progress(); }, this);
            done.set(n, xhr.getResponseHeader("ETag"));
          }, (st) => { urls.clear(); for (const p of st.parts || []) urls.set(p.number, p.url); for (const p of st.parts_uploaded || []) done.set(p.number, p.etag); });
          inflight.delete(n); doneBytes += end - start; this.sent = sum(); this.progress();
        }
      };
      const base = this.sent - doneBytes;
      const sum = () => base + doneBytes + Array.from(inflight.values()).reduce((a, b) => a + b, 0);
      await Promise.all(Array.from({ length: width }, worker));
      this.status("Completing " + f.name + "…");
      const xml = "<CompleteMultipartUpload>" + Array.from(done.keys()).sort((a, b) => a - b)
        .map((n) => "<Part><PartNumber>" + n + "</PartNumber><ETag>" + quoteEtag(done.get(n)) + "</ETag></Part>").join("") + "</CompleteMultipartUpload>";
      await this.withRetry(f, async () => { await cosRequest("POST", f.grant.complete_url, xml, { "Content-Type": "application/xml" }, null, this); });
    }

    async fresh(f) {
      const st = await api("GET", "/uploads/" + this.id);
      const mine = st.files ? st.files.find((x) => x.key === f.key) : st;
      f.grant = mine;
      return mine;
    }

    // Retries: an expired URL gets fresh ones; a lost network waits for it to come back.
    async withRetry(f, fn, onFresh) {
      for (let attempt = 0; ; attempt++) {
        try { return await fn(); } catch (e) {
          if (e.aborted || this.cancelled || attempt >= 8) throw e;
          if (e.expired) {
            this.status("An upload URL expired: asking the API for fresh ones…");
            const st = await this.fresh(f);
            if (onFresh) onFresh(st);
            if (st.url) f.grant = st;
            continue;
          }
          if (e.network || !navigator.onLine) {
            this.status("Connection lost: retrying when the network is back…", "error");
            await waitOnline();
            await sleep(Math.min(8000, 500 * 2 ** attempt));
            const st = await this.fresh(f).catch(() => null);
            if (st && onFresh) onFresh(st);
            if (st && st.state === "staged") return;
            continue;
          }
          if (e.status >= 500) { await sleep(Math.min(8000, 500 * 2 ** attempt)); continue; }
          throw new Error("The cloud refused " + f.name + ": " + e.message);
        }
      }
    }

    pause() {
      this.paused = true;
      for (const x of Array.from(this.xhrs)) x.abort();
      this.buttons("paused");
      this.status("Paused. The parts already sent stay in the cloud.");
    }
    async resume() {
      this.paused = false;
      this.sent = 0; this.samples = [];
      this.files.forEach((f) => { f.grant = {}; });
      await this.run(true);
    }
    async cancel() {
      this.cancelled = true;
      for (const x of Array.from(this.xhrs)) x.abort();
      try {
        if (this.id) await api("DELETE", "/uploads/" + this.id);
        this.status("Cancelled: nothing of this upload is left in the cloud.");
        this.buttons("final");
        if (this.id) dropOpen(this.id);
      } catch (e) { this.status(explain(e), "error"); }
    }

    // The job: its id from GET /uploads/{id}, then its state until it ends.
    async follow() {
      let st = {};
      for (let i = 0; i < 60 && !st.job_id; i++) {
        st = await api("GET", "/uploads/" + this.id);
        if (!st.job_id) await sleep(500);
      }
      if (!st.job_id) { this.status("Uploaded; the job has not started yet.", ""); return; }
      this.jobId = st.job_id;
      for (;;) {
        let job;
        try { job = await api("GET", "/jobs/" + st.job_id); } catch (e) {
          if (e.status === 404) { this.status("Uploaded; waiting for job " + st.job_id + " to start…"); await sleep(1000); continue; }
          if (e.status === 0) { await waitOnline(); continue; }
          throw e;
        }
        this.showJob(job);
        if (FINAL.has(job.state)) { refreshJobs(); return; }
        await sleep(1000);
      }
    }
    showJob(job) {
      const words = { planned: "planned", waiting: "waiting for the package's files", copying: "copying to VOD", completing: "completing",
        committed: "committed to VOD", processing: "processing in VOD", processed: "processed", failed: "failed" };
      this.status("Job " + job.id + ": " + (words[job.state] || job.state) + (job.error ? " — " + job.error.message + " (" + job.error.code + ")" : ""),
        "state-" + job.state);
      const r = this.el.querySelector(".result");
      if (!job.file_id || r.dataset.fileId === job.file_id) return;
      r.dataset.fileId = job.file_id;
      r.innerHTML = "<dl><dt>FileId</dt><dd class=file-id></dd><dt>MediaUrl</dt><dd><a class=media-url></a></dd></dl>";
      r.querySelector(".file-id").textContent = job.file_id;
      const a = r.querySelector(".media-url");
      a.textContent = job.media_url || ""; a.href = job.media_url || "#";
      if (/\.mp4(\?|$)/i.test(job.media_url || "")) {
        const v = document.createElement("video");
        v.controls = true; v.preload = "metadata"; v.src = job.media_url;
        v.setAttribute("aria-label", "Player: " + this.label);
        r.appendChild(v);
      }
    }
  }

  function waitOnline() { return navigator.onLine ? Promise.resolve() : new Promise((r) => window.addEventListener("online", r, { once: true })); }

  // -- choosing files ----------------------------------------------------------------------------
  let picked = { videos: [], cover: null, folder: [] };
  function describePicked() {
    const parts = [];
    if (picked.videos.length) parts.push(picked.videos.length + " video(s): " + picked.videos.map((f) => f.name).join(", "));
    if (picked.cover) parts.push("cover: " + picked.cover.name);
    if (picked.folder.length) parts.push("folder " + folderName(picked.folder) + " (" + picked.folder.length + " files)");
    $("picked").textContent = parts.join("; ");
  }
  function relPath(f) { return f.relPath || f.webkitRelativePath || f.name; }
  function folderName(files) { return relPath(files[0]).split("/")[0]; }
  const IMAGE = /\.(jpe?g|png|gif|bmp|tiff?|heif)$/i;

  async function entriesOf(entry, prefix) {
    if (entry.isFile) return [await new Promise((res, rej) => entry.file((f) => { f.relPath = prefix + f.name; res(f); }, rej))];
    const reader = entry.createReader(); let out = []; let batch;
    do {
      batch = await new Promise((res, rej) => reader.readEntries(res, rej));
      for (const e of batch) out = out.concat(await entriesOf(e, prefix + entry.name + "/"));
    } while (batch.length);
    return out;
  }

  function options() {
    const o = {};
    for (const n of OPTION_NAMES) { const v = $("opt-" + n).value.trim(); if (v) o[n] = /_id$/.test(n) ? Number(v) : v; }
    return o;
  }

  async function startAll() {
    alertMsg("");
    if (!token()) { alertMsg("Enter the API token first."); $("token").focus(); return; }
    const opts = options();
    const jobs = [];
    if (picked.folder.length) {
      const root = folderName(picked.folder);
      const name = /\.(hls|dash)$/i.test(root) ? root : root + (picked.folder.some((f) => /\/index\.mpd$/i.test(relPath(f))) ? ".dash" : ".hls");
      const map = new Map();
      const files = picked.folder.map((f) => { const p = relPath(f).split("/").slice(1).join("/"); map.set(name + "/" + p, f); return { path: p, size: f.size }; });
      const up = new Upload(name, "package");
      jobs.push(up.start({ package: { name, files }, options: opts }, map).catch((e) => refused(up, name, e)));
    }
    picked.videos.forEach((v, i) => {
      const body = { filename: v.name, size: v.size, content_type: v.type || undefined, options: opts };
      const map = new Map([[v.name, v]]);
      if (picked.cover && i === 0) { body.cover = { filename: picked.cover.name, size: picked.cover.size, content_type: picked.cover.type || undefined }; map.set(picked.cover.name, picked.cover); }
      const up = new Upload(v.name + (body.cover ? " + " + picked.cover.name : ""), "video");
      jobs.push(up.start(body, map).catch((e) => refused(up, v.name, e)));
    });
    if (!jobs.length) { alertMsg("Choose a video or a folder first."); return; }
    picked = { videos: [], cover: null, folder: [] };
    for (const id of ["files", "cover", "folder"]) $(id).value = "";
    describePicked();
    await Promise.all(jobs);
  }
  function refused(up, name, e) {
    const msg = e instanceof ApiError && e.status === 400 ? "Refused " + name + ": " + e.message + " (" + e.code + ")" : explain(e);
    up.status(msg, "error"); up.buttons("final");
    alertMsg(msg);
  }

  // -- unfinished list and resume -----------------------------------------------------------------
  function renderOpen() {
    const list = openList();
    $("unfinished-section").hidden = !list.length;
    const ul = $("unfinished"); ul.innerHTML = "";
    list.forEach((rec, i) => {
      const li = document.createElement("li");
      const id = "resume-file-" + i;
      li.innerHTML = '<div class="name"></div><label></label><input type="file" multiple><div class="actions"><button type="button" class="secondary">Forget</button></div>';
      li.querySelector(".name").textContent = rec.label + " (" + fmtBytes(rec.files.reduce((a, f) => a + f.size, 0)) + ") · upload " + rec.upload_id;
      const input = li.querySelector("input"); input.id = id;
      if (rec.kind === "package") input.setAttribute("webkitdirectory", "");
      const label = li.querySelector("label"); label.htmlFor = id;
      label.textContent = "Choose " + (rec.kind === "package" ? "the folder " : "") + rec.files.map((f) => f.name.split("/").pop()).slice(0, 3).join(", ") + " again to resume";
      input.onchange = () => resumeWith(rec, Array.from(input.files));
      const forget = li.querySelector("button"); forget.setAttribute("aria-label", "Forget " + rec.label);
      forget.onclick = () => dropOpen(rec.upload_id);
      ul.appendChild(li);
    });
  }
  async function resumeWith(rec, chosen) {
    alertMsg("");
    const map = new Map();
    for (const f of rec.files) {
      const tail = f.name.split("/").slice(1).join("/");
      const hit = chosen.find((c) => (rec.kind === "package" ? relPath(c).split("/").slice(1).join("/") === tail : c.name === f.name) && c.size === f.size);
      if (hit) map.set(f.name, hit);
    }
    const up = new Upload(rec.label, rec.kind);
    up.files = rec.files;
    try { await up.attach(rec.upload_id, map); } catch (e) { up.status(explain(e), "error"); up.buttons("paused"); up.paused = true; up.pendingFiles = map; }
    renderOpen();
  }
  async function findUpload(id) {
    alertMsg("");
    try {
      const st = await api("GET", "/uploads/" + id);
      if (st.state === "staged") { alertMsg("That upload is complete: job " + st.job_id + "."); return; }
      if (st.state !== "pending") { alertMsg("That upload is " + st.state + "."); return; }
      const files = st.files ? st.files.map((f) => ({ name: f.name, size: f.size, key: f.key })) : [{ name: st.key.split("/").pop(), size: st.size, key: st.key }];
      const pkg = st.files && st.files.some((f) => f.role === "index");
      saveOpen({ upload_id: id, label: pkg ? files[0].name.split("/")[0] : files[files.length - 1].name, kind: pkg ? "package" : "video", created: Date.now(), files });
      renderOpen();
      $("unfinished").querySelector("input").focus();
    } catch (e) { alertMsg(e.status === 404 ? "No upload " + id + "." : explain(e)); }
  }

  // -- recent jobs ------------------------------------------------------------------------------
  async function refreshJobs() {
    if (!token()) return;
    try {
      const data = await api("GET", "/jobs?limit=10");
      const tb = $("jobs").querySelector("tbody"); tb.innerHTML = "";
      for (const j of data.jobs) {
        const tr = document.createElement("tr");
        for (const v of [j.source.name, j.state + (j.error ? ": " + j.error.message : ""), j.file_id || "", new Date(j.created_at * 1000).toLocaleString()]) {
          const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
        }
        tr.children[1].className = "state-" + j.state;
        tb.appendChild(tr);
      }
      $("token-state").textContent = "Token accepted.";
    } catch (e) { $("token-state").textContent = explain(e); }
  }

  // -- wiring -------------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").onsubmit = (e) => { e.preventDefault(); sessionStorage.setItem(KEY_TOKEN, $("token").value.trim()); $("token").value = ""; alertMsg(""); refreshJobs(); };
    $("token-forget").onclick = () => { sessionStorage.removeItem(KEY_TOKEN); $("token-state").textContent = "No token."; };
    $("token-state").textContent = token() ? "A token is set for this session." : "No token yet.";
    $("files").onchange = () => { picked.videos = Array.from($("files").files); describePicked(); };
    $("cover").onchange = () => { picked.cover = $("cover").files[0] || null; describePicked(); };
    $("folder").onchange = () => { picked.folder = Array.from($("folder").files); describePicked(); };
    $("upload-form").onsubmit = (e) => { e.preventDefault(); startAll(); };
    $("resume-form").onsubmit = (e) => { e.preventDefault(); findUpload($("resume-id").value.trim()); };
    $("jobs-refresh").onclick = refreshJobs;
    const drop = $("drop");
    drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
    drop.ondragleave = () => drop.classList.remove("over");
    drop.ondrop = async (e) => {
      e.preventDefault(); drop.classList.remove("over");
      for (const item of Array.from(e.dataTransfer.items)) {
        const entry = item.webkitGetAsEntry && item.webkitGetAsEntry();
        if (entry && entry.isDirectory) picked.folder = await entriesOf(entry, "");
        else { const f = item.getAsFile(); if (f) (IMAGE.test(f.name) ? (picked.cover = f) : picked.videos.push(f)); }
      }
      describePicked();
    };
    window.addEventListener("offline", () => { const n = $("net"); n.hidden = false; n.textContent = "You are offline: uploads continue when the network is back."; });
    window.addEventListener("online", () => { const n = $("net"); n.hidden = false; n.textContent = "Back online: resuming."; });
    renderOpen();
    refreshJobs();
  });
})();
