/* consentkit family flow: the pages' behaviour, on the signer API (/api/v1/auth, /api/v1/me).
 *
 * No build step, no framework. Page data and words come from two JSON elements the
 * server renders (#ck-data, #ck-strings): the CSP forbids inline script, and JSON
 * in a <script type="application/json"> element is never executed. Tokens live in
 * sessionStorage (gone when the tab closes). Every POST carries an Idempotency-Key,
 * a 401 triggers one token refresh, and problem+json `message`s are shown in an
 * aria-live region. Text from the server is always set with textContent, and form
 * HTML (already made safe by the server) is copied through an allowlist.
 */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("ck-data").textContent);
  const strings = JSON.parse(document.getElementById("ck-strings").textContent);
  const T = strings.text;
  const API = data.api;
  const LANG = data.lang;
  const BASE = data.base;
  const RECORD = data.record_id;
  const store = window.sessionStorage;
  const KEY = {
    access: "ck.access",
    refresh: "ck.refresh",
    device: "ck.device",
    challenge: "ck.challenge",
    destination: "ck.destination",
    flash: "ck.flash",
  };

  // ------------------------------------------------------------------ helpers

  function $(id) {
    return document.getElementById(id);
  }

  function fmt(template, params) {
    return template.replace(/%\((\w+)\)s/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole;
    });
  }

  function el(tag, attributes, text) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(function ([name, value]) {
      node.setAttribute(name, value);
    });
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  // The yes and no radio buttons of one consent item (the parents' and the child's choices).
  function yesNoOptions(fieldset, item) {
    [
      ["yes", T.yes],
      ["no", T.no],
    ].forEach(function ([value, text]) {
      const id = "item-" + item.id + "-" + value;
      const row = el("div", { class: "option" });
      row.appendChild(el("input", { type: "radio", name: item.id, id: id, value: value }));
      row.appendChild(el("label", { for: id }, text));
      fieldset.appendChild(row);
    });
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // Not a secure context (plain http on another host): same format from getRandomValues.
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  function deviceId() {
    let id = store.getItem(KEY.device);
    if (!id) {
      id = "web-" + uuid();
      store.setItem(KEY.device, id);
    }
    return id;
  }

  function go(path) {
    window.location.assign(BASE + path);
  }

  // The server says what comes next (``next_step``, one rule in consentkit's ceremony) and
  // whether a record still takes steps (``phase``); this script keeps no copy of either.
  const STEP_PAGES = {
    read: "read",
    questions: "quiz",
    choices: "choices",
    sign: "sign",
    done: "done",
  };

  function stepPath(recordId, step) {
    return "records/" + encodeURIComponent(recordId) + "/" + STEP_PAGES[step];
  }

  /** The page (and API path) of a new version's text the family was informed of. */
  function informationPath(information) {
    return "information/" + encodeURIComponent(information.form_id) + "/" + information.version;
  }

  /** This record's task as the server sees it now (state, phase, next step, who is missing). */
  async function currentTask() {
    const tasks = await api("GET", "/me/tasks?page_size=100");
    return tasks.find((t) => t.record_id === RECORD);
  }

  /** The step the server named in a write's answer, or (no answer) in the task as it is now. */
  async function nextStep(result) {
    if (result && result.next_step) {
      return result.next_step;
    }
    const task = await currentTask();
    return task ? task.next_step : null;
  }

  /**
   * Show where this page is among the record's steps: the order is the server's
   * (``steps``, from consentkit's ceremony), so this script only marks the page.
   */
  async function showSteps() {
    const list = $("step-indicator");
    if (!list || !RECORD) {
      return;
    }
    const task = await currentTask();
    if (!task || !task.steps || !task.steps.length) {
      return;
    }
    const here = task.steps.find((step) => STEP_PAGES[step] === data.page);
    const next = task.steps.indexOf(task.next_step);
    list.textContent = "";
    task.steps.forEach(function (step, index) {
      const item = el("li", { class: "step" }, T["step_" + step]);
      if (step === here) {
        item.setAttribute("aria-current", "step");
        item.classList.add("current");
      } else if (next === -1 || index < next) {
        item.classList.add("done");
        item.appendChild(el("span", { class: "visually-hidden" }, " (" + T.step_completed + ")"));
      }
      list.appendChild(item);
    });
    if (here) {
      $("step-count").textContent = fmt(T.step_of, {
        number: task.steps.indexOf(here) + 1,
        total: task.steps.length,
      });
    }
    list.parentElement.hidden = false;
  }

  /**
   * The signer's language: the server chooses (the one picked on this device, else the one
   * recorded for them, else the phone's, among their site's) and this page follows it.
   * The language menu keeps only the site's languages.
   */
  async function applyLanguage() {
    const query = data.lang_chosen ? "?chosen=" + encodeURIComponent(data.lang_chosen) : "";
    const phone = (navigator.languages || [navigator.language]).filter(Boolean).join(",");
    const me = await api("GET", "/auth/me" + query, undefined, { language: phone || LANG });
    document.querySelectorAll(".language-switcher a[hreflang]").forEach(function (link) {
      const tag = link.getAttribute("hreflang");
      link.parentElement.hidden = !(me.languages.includes(tag) || tag === LANG);
    });
    if (me.language && me.language !== LANG) {
      const url = new URL(window.location.href);
      url.searchParams.set("lang", me.language);
      window.location.replace(url.toString());
      return false;
    }
    return true;
  }

  /** "Ask the study team a question" on every reading page (``POST /me/questions``). */
  function offerQuestions() {
    const form = $("ask-form");
    if (!form) {
      return;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const field = $("ask-text");
      const text = field.value.trim();
      if (!text) {
        showError(T.write_question);
        field.focus();
        return;
      }
      busy($("ask-send"), async function () {
        await api("POST", "/me/questions", { text: text, record_id: RECORD || null });
        field.value = "";
        showStatus(T.question_sent);
        await showThread();
      });
    });
    showThread().catch(function () {
      /* not signed in yet, or offline: the form still works */
    });
  }

  /** The signer's questions and the team's answers (``GET /me/questions``), newest first. */
  async function showThread() {
    const box = $("ask-thread");
    if (!box || !store.getItem(KEY.access)) {
      return;
    }
    const thread = await api("GET", "/me/questions");
    box.replaceChildren();
    if (!thread.length) {
      box.hidden = true;
      return;
    }
    box.appendChild(el("h3", {}, T.your_questions));
    const list = el("ul", { class: "question-thread" });
    thread
      .slice()
      .reverse()
      .forEach(function (question) {
        const item = el("li", { "data-status": question.status, "data-seq": String(question.seq) });
        item.appendChild(el("p", { class: "question-text" }, question.text));
        question.answers.forEach(function (answer) {
          const said = el("div", { class: "answer", lang: answer.locale || LANG });
          said.appendChild(el("p", { class: "hint" }, T.team_answer));
          said.appendChild(el("p", {}, answer.text));
          item.appendChild(said);
        });
        if (question.status === "open") {
          item.appendChild(el("p", { class: "hint" }, T.question_open));
        } else if (question.status === "closed") {
          item.appendChild(el("p", { class: "hint" }, T.question_closed));
        }
        list.appendChild(item);
      });
    box.appendChild(list);
    box.hidden = false;
    if (thread.some((question) => question.answers.length)) {
      $("ask-panel").open = true;
    }
  }

  /** Open the page of a step the server named (the task list if it named none). */
  function goToStep(step) {
    go(STEP_PAGES[step] ? stepPath(RECORD, step) : "tasks");
  }

  function showError(text) {
    const region = $("messages");
    region.textContent = "";
    // A fresh text node is announced even when the same message repeats.
    window.setTimeout(function () {
      region.textContent = text;
      region.scrollIntoView({ block: "nearest" });
    }, 50);
  }

  function clearError() {
    $("messages").textContent = "";
  }

  function showStatus(text) {
    $("status").textContent = text;
  }

  function formatDate(iso, withTime) {
    const options = withTime ? { dateStyle: "long", timeStyle: "short" } : { dateStyle: "long" };
    return new Intl.DateTimeFormat(LANG, options).format(new Date(iso));
  }

  function listOf(words) {
    return new Intl.ListFormat(LANG, { type: "conjunction" }).format(words);
  }

  /** Run ``action`` with ``button`` disabled; show what went wrong. */
  async function busy(button, action) {
    clearError();
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      return await action();
    } catch (error) {
      showError(error.message || T.network);
      return undefined;
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  // ------------------------------------------------------------------ the API

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && problem.message) || T.network);
      this.status = status;
      this.error = (problem && problem.error) || "network";
    }
  }

  function saveTokens(tokens) {
    store.setItem(KEY.access, tokens.access_token);
    store.setItem(KEY.refresh, tokens.refresh_token);
  }

  function forgetSession() {
    Object.keys(store)
      .filter((key) => key.startsWith("ck.") && key !== KEY.device)
      .forEach((key) => store.removeItem(key));
  }

  function signedIn() {
    return Boolean(store.getItem(KEY.access) || store.getItem(KEY.refresh));
  }

  let refreshing = null;

  /** Rotate the tokens once; concurrent callers share one refresh (a reused token revokes all). */
  function refreshTokens() {
    if (!refreshing) {
      refreshing = (async function () {
        const refresh = store.getItem(KEY.refresh);
        if (!refresh) {
          return false;
        }
        try {
          const response = await fetch(API + "/auth/tokens/refresh", {
            method: "POST",
            headers: { "Content-Type": "application/json", "Accept-Language": LANG },
            body: JSON.stringify({ refresh_token: refresh, device_id: deviceId() }),
            credentials: "omit",
          });
          if (!response.ok) {
            return false;
          }
          saveTokens(await response.json());
          return true;
        } catch (error) {
          return false;
        }
      })();
      refreshing.finally(function () {
        refreshing = null;
      });
    }
    return refreshing;
  }

  function sendToStart() {
    forgetSession();
    store.setItem(KEY.flash, T.signed_out);
    go("");
  }

  /**
   * Call the API. ``options.anonymous``: no token and no refresh (sign-in calls);
   * ``options.raw``: return the Response (for the PDF). Throws ApiError.
   */
  async function api(method, path, body, options) {
    options = options || {};
    const headers = { Accept: "application/json", "Accept-Language": options.language || LANG };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    // The same request sent again after a lost answer (network error, crash, 5xx) keeps its
    // Idempotency-Key, so the server answers with what it already did instead of "already
    // signed". The key is forgotten once an answer arrives that is final.
    const idemSlot = method === "POST" ? "idem:" + path + ":" + JSON.stringify(body === undefined ? null : body) : null;
    if (idemSlot) {
      let key = store.getItem(idemSlot);
      if (!key) {
        key = uuid();
        store.setItem(idemSlot, key);
      }
      headers["Idempotency-Key"] = key;
    }
    const settle = function (status) {
      if (idemSlot && status > 0 && status < 500 && status !== 409) {
        store.removeItem(idemSlot);
      }
    };
    const send = function () {
      const token = store.getItem(KEY.access);
      if (token && !options.anonymous) {
        headers.Authorization = "Bearer " + token;
      }
      return fetch(API + path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
      });
    };
    let response;
    try {
      response = await send();
      if (response.status === 401 && !options.anonymous) {
        if (await refreshTokens()) {
          response = await send();
        }
        if (response.status === 401) {
          sendToStart();
          throw new ApiError(401, { message: T.signed_out, error: "signed-out" });
        }
      }
    } catch (error) {
      if (error instanceof ApiError) {
        throw error;
      }
      throw new ApiError(0, { message: T.network, error: "network" });
    }
    settle(response.status);
    if (!response.ok) {
      let problem = null;
      try {
        problem = await response.json();
      } catch (error) {
        problem = null;
      }
      throw new ApiError(response.status, problem);
    }
    if (options.raw) {
      return response;
    }
    return response.status === 204 ? null : response.json();
  }

  function loadForm() {
    return api("GET", "/me/records/" + encodeURIComponent(RECORD) + "/form").then(function (form) {
      store.setItem("ck.locale." + RECORD, form.locale);
      return form;
    });
  }

  function requireSignIn() {
    if (!signedIn()) {
      sendToStart();
      return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ form text

  const ALLOWED = new Set([
    "P", "UL", "OL", "LI", "STRONG", "EM", "B", "I", "A", "BR", "BLOCKQUOTE", "CODE", "PRE",
    "TABLE", "THEAD", "TBODY", "TR", "TH", "TD", "HR", "DL", "DT", "DD", "H3", "H4",
  ]);
  // Section titles are h2: headings inside a section's text come below them.
  const HEADINGS = { H1: "H3", H2: "H3", H3: "H3", H4: "H4", H5: "H4", H6: "H4" };

  /** Show a section's picture (consentkit.authoring.media): a checked data: URL and its alt. */
  function showPicture(media) {
    const figure = $("section-figure");
    if (!figure) return;
    const image = $("section-image");
    const ok = Boolean(media && media.src && media.src.indexOf("data:image/") === 0);
    figure.hidden = !ok;
    image.src = ok ? media.src : "data:,";
    image.alt = ok ? media.alt : "";
  }

  /** Copy the server's (already safe) HTML through an allowlist of tags and link schemes. */
  function safeFragment(html) {
    const parsed = new DOMParser().parseFromString(html, "text/html");
    const out = document.createDocumentFragment();
    (function copy(from, to) {
      from.childNodes.forEach(function (child) {
        if (child.nodeType === Node.TEXT_NODE) {
          to.appendChild(document.createTextNode(child.textContent));
          return;
        }
        if (child.nodeType !== Node.ELEMENT_NODE) {
          return;
        }
        const tag = HEADINGS[child.tagName] || child.tagName;
        if (!ALLOWED.has(tag)) {
          copy(child, to); // drop the tag, keep its text
          return;
        }
        const node = document.createElement(tag);
        if (tag === "A") {
          const href = child.getAttribute("href") || "";
          if (/^(https?:|mailto:|tel:)/i.test(href)) {
            node.setAttribute("href", href);
            node.setAttribute("rel", "noopener noreferrer");
          }
        }
        copy(child, node);
        to.appendChild(node);
      });
    })(parsed.body, out);
    return out;
  }

  // ------------------------------------------------------------------ one-time codes

  /** The "send me a code" block of the sign and withdraw pages. */
  function stepUp() {
    let challenge = null;
    const button = $("send-step-up");
    const field = $("step-up-field");
    const input = $("step-up-code");
    button.addEventListener("click", function () {
      busy(button, async function () {
        const sent = await api("POST", "/auth/step-up");
        challenge = sent.challenge_id;
        $("step-up-destination").textContent = fmt(T.code_sent, { destination: sent.destination });
        field.hidden = false;
        input.value = "";
        input.focus();
      });
    });
    return {
      check: function () {
        if (!challenge) {
          return T.ask_code_first;
        }
        return /^\d{6}$/.test(input.value.trim()) ? null : T.enter_code;
      },
      verify: async function () {
        try {
          await api("POST", "/auth/step-up/" + encodeURIComponent(challenge) + "/verify", {
            code: input.value.trim(),
          });
        } catch (error) {
          if (error.status === 429) {
            // Too many wrong codes: this code is spent; offer a new one at once.
            challenge = null;
            input.value = "";
            field.hidden = true;
            $("step-up-destination").textContent = T.too_many_codes;
            button.textContent = T.send_new_code;
            button.focus();
          }
          throw error;
        }
        challenge = null; // a code works once
      },
      reset: function () {
        challenge = null;
        input.value = "";
        field.hidden = true;
        $("step-up-destination").textContent = "";
      },
    };
  }

  // ------------------------------------------------------------------ pages

  const pages = {};

  pages.start = function () {
    const flash = store.getItem(KEY.flash);
    if (flash) {
      store.removeItem(KEY.flash);
      showStatus(flash);
    }
    if (!/\/family\/?$/.test(window.location.pathname)) {
      // A deep link carries the invitation code: keep it out of the history.
      window.history.replaceState(null, "", BASE);
    }
    // Signed in on this device already: the wallet is one tap away.
    $("wallet-start").hidden = !signedIn();
    const form = $("redeem-form");
    const input = $("invitation-code");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const code = input.value.trim();
      if (code.replace(/[^0-9a-z]/gi, "").length < 6) {
        showError(T.enter_invitation);
        input.focus();
        return;
      }
      busy(form.querySelector("button[type=submit]"), async function () {
        const sent = await api("POST", "/auth/invitations/redeem", { code: code }, { anonymous: true });
        store.setItem(KEY.challenge, sent.challenge_id);
        store.setItem(KEY.destination, sent.destination);
        go("code");
      });
    });
  };

  pages.code = function () {
    const challenge = store.getItem(KEY.challenge);
    if (!challenge) {
      go("");
      return;
    }
    $("code-destination").textContent = fmt(T.code_sent, {
      destination: store.getItem(KEY.destination) || "",
    });
    const form = $("verify-form");
    const input = $("one-time-code");
    input.focus();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const code = input.value.trim();
      if (!/^\d{6}$/.test(code)) {
        showError(T.enter_code);
        input.focus();
        return;
      }
      busy(form.querySelector("button[type=submit]"), async function () {
        const tokens = await api(
          "POST",
          "/auth/challenges/" + encodeURIComponent(challenge) + "/verify",
          { code: code, device_id: deviceId() },
          { anonymous: true }
        );
        saveTokens(tokens);
        store.removeItem(KEY.challenge);
        store.removeItem(KEY.destination);
        go("tasks");
      });
    });
  };

  pages.tasks = async function () {
    const list = $("task-list");
    const [me, tasks] = await Promise.all([
      api("GET", "/auth/me"),
      api("GET", "/me/tasks?page_size=100"),
    ]);
    $("signed-in-as").textContent =
      fmt(T.signed_in_as, { code: me.participant_code }) +
      " · " +
      (strings.signer_role[me.role] || me.role);
    const forms = await Promise.all(
      tasks.map((task) =>
        task.phase === "informed" && task.information
          ? api("GET", "/me/" + informationPath(task.information)).catch(() => null)
          : task.record_id
          ? api("GET", "/me/records/" + encodeURIComponent(task.record_id) + "/form").catch(() => null)
          : null
      )
    );
    list.textContent = "";
    if (!tasks.length) {
      list.appendChild(el("li", { class: "card" }, T.no_tasks));
    }
    const template = $("task-template");
    tasks.forEach(function (task, index) {
      const card = template.content.firstElementChild.cloneNode(true);
      const form = forms[index];
      card.querySelector(".task-title").textContent = form ? form.title : task.form_id;
      card.querySelector(".task-kind").textContent =
        (task.why ? task.why.label + " · " : "") +
        (strings.form_kind[task.form_kind] || task.form_kind) +
        (task.version ? " · v" + task.version : "");
      // A task still to open, or updated information: the server says which (phase, next_step).
      if (task.phase === "to-open" || task.phase === "informed") {
        card.querySelector(".task-state").textContent =
          task.information ? task.information.change_summary : "";
        card.querySelector(".task-due").remove();
        const act = card.querySelector(".task-action");
        if (task.next_step === "open") {
          act.textContent = T.step_open;
          act.addEventListener("click", async function (event) {
            event.preventDefault();
            const opened = await api("POST", "/me/tasks/" + encodeURIComponent(task.task_key) + "/open");
            go(stepPath(opened.record_id, opened.next_step));
          });
        } else if (task.next_step === "read-update") {
          act.textContent = T["step_read-update"];
          act.href = BASE + informationPath(task.information);
        } else {
          act.remove();
        }
        list.appendChild(card);
        return;
      }
      // The state in this signer's words ("waiting for the other parent"), from the server.
      let state = task.status_text;
      const open = task.phase === "open";
      // After a withdrawal: what the family asked to stop, in their words.
      if (task.withdrawn_scopes && task.withdrawn_scopes.length) {
        state += ": " + listOf(task.withdrawn_scopes.map((s) => strings.withdrawal_scope[s] || s));
      }
      card.querySelector(".task-state").textContent = state;
      const due = card.querySelector(".task-due");
      const action = card.querySelector(".task-action");
      const toDo = open && task.next_step !== "done";
      if (toDo && task.due_at) {
        due.textContent = fmt(T.due, { date: formatDate(task.due_at, false) });
      } else {
        due.remove();
      }
      // A closed record offers only what was signed: this signer's, or the consented record.
      const step = toDo ? task.next_step : task.phase === "consented" || task.next_step === "done" ? "done" : null;
      if (task.child_turn && toDo) {
        // A young child's own assent: they take their turn on this device (no code of theirs).
        card.classList.add("child-turn");
        action.textContent = T.child_turn;
        action.href = BASE + "records/" + encodeURIComponent(task.record_id) + "/child";
      } else if (step) {
        action.textContent = T["step_" + step];
        action.href = BASE + stepPath(task.record_id, step);
      } else {
        action.remove();
      }
      list.appendChild(card);
    });
    list.setAttribute("aria-busy", "false");
    await showWithdrawals();
  };

  pages.information = async function () {
    const form = await api("GET", "/me/" + informationPath(data.information));
    $("form-title").textContent = form.title;
    $("form-summary").textContent = form.summary || "";
    const holder = $("information-sections");
    holder.textContent = "";
    form.sections.forEach(function (section, index) {
      const id = "information-section-" + index;
      const article = el("article", { class: "section", "aria-labelledby": id });
      article.appendChild(el("h2", { id: id }, section.title));
      if (section.summary) {
        article.appendChild(el("p", { class: "summary" }, section.summary));
      }
      const media = section.media;
      if (media && media.src && media.src.indexOf("data:image/") === 0) {
        const figure = el("figure", { class: "section-picture" });
        figure.appendChild(el("img", { src: media.src, alt: media.alt }));
        article.appendChild(figure);
      }
      const body = el("div", { class: "prose" });
      body.appendChild(safeFragment(section.html || ""));
      article.appendChild(body);
      holder.appendChild(article);
    });
  };

  pages.read = async function () {
    const form = await loadForm();
    const sections = form.sections;
    const progressKey = "ck.part." + RECORD;
    $("form-title").textContent = form.title;
    $("form-summary").textContent = form.summary || "";
    let index = Math.min(Number(store.getItem(progressKey)) || 0, sections.length - 1);
    let shownAt = performance.now();
    const pending = new Map();
    const seen = new Set();

    function account() {
      const now = performance.now();
      const id = sections[index].id;
      const seconds = Math.min((now - shownAt) / 1000, 86400);
      pending.set(id, (pending.get(id) || 0) + seconds);
      shownAt = now;
    }

    // One send at a time: a "next" that sends in the background and a "finish" that sends
    // the rest must reach the server in order, or the server may answer "not everything is
    // read yet" to the second while the first is still on its way.
    let inflight = Promise.resolve(null);

    /** Send the seconds not sent yet, after any send still on its way; return the answer. */
    function flush() {
      const run = inflight.catch(() => null).then(send);
      inflight = run;
      return run;
    }

    async function send() {
      if (!pending.size) {
        return null;
      }
      const batch = Array.from(pending, ([id, seconds]) => ({
        id: id,
        seconds: Math.round(seconds * 10) / 10,
      }));
      pending.clear();
      try {
        return await api("POST", "/me/records/" + encodeURIComponent(RECORD) + "/views", {
          locale: form.locale,
          sections: batch,
          client_at: new Date().toISOString(),
        });
      } catch (error) {
        batch.forEach((s) => pending.set(s.id, (pending.get(s.id) || 0) + s.seconds));
        throw error;
      }
    }

    function show(next, moveFocus) {
      index = next;
      store.setItem(progressKey, String(index));
      const section = sections[index];
      seen.add(section.id);
      $("section-title").textContent = section.title;
      $("section-summary").textContent = section.summary || "";
      showPicture(section.media);
      const body = $("section-body");
      body.textContent = "";
      body.appendChild(safeFragment(section.html || ""));
      $("part-progress").textContent = fmt(T.part_of, { number: index + 1, total: sections.length });
      $("part-bar").max = sections.length;
      $("part-bar").value = index + 1;
      $("previous-part").disabled = index === 0;
      const last = index === sections.length - 1;
      $("next-part").hidden = last;
      $("finish-reading").hidden = !last;
      if (moveFocus) {
        $("section").focus();
        $("section").scrollIntoView({ block: "start" });
      }
    }

    $("previous-part").addEventListener("click", function () {
      account();
      show(index - 1, true);
    });
    $("next-part").addEventListener("click", function () {
      account();
      show(index + 1, true);
      if (pending.size >= 4) {
        flush().catch((error) => showError(error.message));
      }
    });
    $("finish-reading").addEventListener("click", function () {
      const button = this;
      account();
      busy(button, async function () {
        // Parts read on an earlier visit count too: the server has them, and says what is next.
        const step = await nextStep(await flush());
        if (step === "read") {
          showError(T.read_every_part);
          return;
        }
        store.removeItem(progressKey);
        goToStep(step);
      });
    });
    // Leaving the page: send what was read, best effort.
    window.addEventListener("pagehide", function () {
      if (!pending.size || !store.getItem(KEY.access)) {
        return;
      }
      fetch(API + "/me/records/" + encodeURIComponent(RECORD) + "/views", {
        method: "POST",
        keepalive: true,
        headers: {
          "Content-Type": "application/json",
          Authorization: "Bearer " + store.getItem(KEY.access),
          "Idempotency-Key": uuid(),
        },
        body: JSON.stringify({
          locale: form.locale,
          sections: Array.from(pending, ([id, seconds]) => ({ id: id, seconds: Math.round(seconds * 10) / 10 })),
        }),
      });
      pending.clear();
    });
    show(index, false);
  };

  pages.quiz = async function () {
    const form = await loadForm();
    const box = $("questions");
    form.questions.forEach(function (question) {
      const fieldset = el("fieldset", { class: "question card" });
      fieldset.appendChild(el("legend", {}, question.text));
      question.options.forEach(function (option) {
        const id = "q-" + question.id + "-" + option.id;
        const row = el("div", { class: "option" });
        row.appendChild(el("input", { type: "radio", name: question.id, id: id, value: option.id }));
        row.appendChild(el("label", { for: id }, option.text));
        fieldset.appendChild(row);
      });
      const feedback = el("p", { class: "feedback", id: "feedback-" + question.id });
      feedback.hidden = true;
      fieldset.appendChild(feedback);
      box.appendChild(fieldset);
    });
    const score = $("quiz-score");
    score.setAttribute("tabindex", "-1");
    const quiz = $("quiz-form");
    let answered = null;
    quiz.addEventListener("submit", function (event) {
      event.preventDefault();
      const answers = {};
      form.questions.forEach(function (question) {
        const chosen = quiz.querySelector('input[name="' + CSS.escape(question.id) + '"]:checked');
        if (chosen) {
          answers[question.id] = chosen.value;
        }
      });
      if (Object.keys(answers).length < form.questions.length) {
        showError(T.answer_every_question);
        return;
      }
      busy($("check-answers"), async function () {
        const result = await api("POST", "/me/records/" + encodeURIComponent(RECORD) + "/answers", {
          locale: form.locale,
          answers: answers,
        });
        result.results.forEach(function (item) {
          const feedback = $("feedback-" + item.id);
          if (!feedback) {
            return;
          }
          feedback.hidden = false;
          feedback.classList.toggle("wrong", !item.correct);
          feedback.textContent = item.correct ? T.correct : T.not_quite + ": " + item.explanation;
        });
        score.textContent =
          fmt(T.score, { score: result.score, total: result.results.length }) +
          " " +
          // "Well done" only when every answer was right; a pass may still have a wrong one.
          (result.passed ? (result.all_correct ? T.quiz_passed : T.quiz_passed_with_mistakes) : T.quiz_failed);
        answered = result;
        $("quiz-continue").hidden = !result.passed;
        score.focus();
      });
    });
    $("quiz-continue").addEventListener("click", function () {
      busy(this, async () => goToStep(await nextStep(answered)));
    });
  };

  pages.choices = async function () {
    const form = await loadForm();
    const box = $("items");
    form.items.forEach(function (item) {
      const fieldset = el("fieldset", { class: "item card" });
      const legend = el("legend");
      legend.appendChild(el("span", { class: "badge" }, item.required ? T.required_item : T.optional_item));
      legend.appendChild(el("span", { class: "item-text" }, " " + item.text));
      fieldset.appendChild(legend);
      yesNoOptions(fieldset, item);
      box.appendChild(fieldset);
    });
    const choicesForm = $("choices-form");

    function chosen() {
      const result = {};
      form.items.forEach(function (item) {
        const input = choicesForm.querySelector('input[name="' + CSS.escape(item.id) + '"]:checked');
        if (input) {
          result[item.id] = input.value === "yes";
        }
      });
      return result;
    }

    function refusedRequired(choices) {
      return form.items.some((item) => item.required && choices[item.id] === false);
    }

    choicesForm.addEventListener("change", function () {
      $("decline-panel").hidden = !refusedRequired(chosen());
    });
    choicesForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const choices = chosen();
      if (Object.keys(choices).length < form.items.length) {
        showError(T.answer_every_item);
        return;
      }
      if (refusedRequired(choices)) {
        $("decline-panel").hidden = false;
        showError(T.required_refused);
        return;
      }
      busy(choicesForm.querySelector("button[type=submit]"), async function () {
        const saved = await api("POST", "/me/records/" + encodeURIComponent(RECORD) + "/choices", {
          choices: choices,
        });
        goToStep(await nextStep(saved));
      });
    });
    $("decline-button").addEventListener("click", function () {
      const reason = $("decline-reason").value.trim();
      busy(this, async function () {
        await api("POST", "/me/records/" + encodeURIComponent(RECORD) + "/decline", reason ? { reason: reason } : {});
        choicesForm.hidden = true;
        $("decline-panel").hidden = true;
        showStatus(T.declined);
      });
    });
  };

  pages.sign = async function () {
    const [form, me, task] = await Promise.all([loadForm(), api("GET", "/auth/me"), currentTask()]);
    $("form-title-line").textContent = form.title;
    $("signature-meaning").textContent = (form.signature_meanings || {})[me.role] || "";
    showChoicesSigned(form, task);
    // The time to think is told before anything is typed (the rule: policy.signing).
    const until = task && task.reflection_until ? new Date(task.reflection_until) : null;
    if (until && until > new Date()) {
      const notice = $("reflection-notice");
      notice.textContent = fmt(T.reflection_until, { date: formatDate(until.toISOString(), true) });
      notice.hidden = false;
      $("justification-field").hidden = false;
    }
    const methods = ((task && task.signature_methods) || ["drawn", "typed"]).slice();
    const onDevice = methods.filter((m) => m === "drawn" || m === "typed");
    $("attested-hint").hidden = methods.indexOf("attested") < 0;
    $("method-drawn-choice").hidden = onDevice.indexOf("drawn") < 0;
    $("method-typed-choice").hidden = onDevice.indexOf("typed") < 0;
    $("method-field").hidden = onDevice.length < 2;
    if (onDevice.length === 1) {
      $("method-" + onDevice[0]).checked = true;
    }
    const canvas = $("signature-canvas");
    const pad = window.ConsentkitSignature.attach(canvas, $("clear-signature"));

    function method() {
      const chosen = document.querySelector("input[name=signature_method]:checked");
      return chosen ? chosen.value : onDevice[0];
    }
    function showMethod() {
      const typed = method() === "typed";
      $("drawn-field").hidden = typed;
      $("typed-field").hidden = !typed;
    }
    $("method-field").addEventListener("change", showMethod);
    showMethod();

    const code = stepUp();
    const signForm = $("sign-form");
    signForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const how = method();
      const name = $("printed-name").value.trim();
      const justifying = !$("justification-field").hidden;
      const justification = $("justification").value.trim();
      const problem = !name
        ? T.type_name
        : how === "drawn" && pad.isEmpty()
          ? T.draw_signature
          : how === "typed" && !$("i-sign").checked
            ? T.confirm_i_sign
            : justifying && !justification
              ? T.give_reason
              : code.check();
      if (problem) {
        showError(problem);
        return;
      }
      busy($("submit-signature"), async function () {
        await code.verify();
        const now = new Date();
        const body = {
          locale: form.locale,
          content_sha256: form.content_sha256,
          printed_name: name,
          signature_method: how,
          client_at: now.toISOString(),
          client_offset_minutes: -now.getTimezoneOffset(),
        };
        if (how === "drawn") {
          body.strokes = window.ConsentkitSignature.toStrokes(pad.toData());
        } else {
          body.i_sign = true;
        }
        if (justifying) {
          body.early_signing_justification = justification;
        }
        let signed;
        try {
          signed = await api("POST", "/me/records/" + encodeURIComponent(RECORD) + "/signature", body);
        } catch (error) {
          // The fresh code is spent by any signing attempt that reached the server.
          code.reset();
          if (error.error === "reflection-time") {
            $("justification-field").hidden = false;
            $("justification").focus();
          }
          if (error.error === "printed-name-mismatch") {
            $("printed-name").focus();
          }
          throw new ApiError(error.status, {
            message: error.message + " " + T.new_code_needed,
            error: error.error,
          });
        }
        goToStep(await nextStep(signed));
      });
    });
  };

  /** A young child's turn on a parent's device: read, say yes or no, sign; no code, no adult words. */
  pages.child = async function () {
    const form = await loadForm();
    const base = "/me/records/" + encodeURIComponent(RECORD);
    // The pictorial band (6-9) reads in larger type; every band in short, plain steps.
    document.body.classList.toggle("band-pictorial", form.age_band_style === "pictorial");
    $("form-title").textContent = form.title;
    const sections = form.sections;
    let index = 0;
    let shownAt = performance.now();
    const seconds = new Map();

    function account() {
      const now = performance.now();
      const id = sections[index].id;
      seconds.set(id, (seconds.get(id) || 0) + Math.min((now - shownAt) / 1000, 86400));
      shownAt = now;
    }

    function showPanel(id) {
      ["child-read", "child-choose", "child-no", "child-sign", "child-done"].forEach(function (panel) {
        $(panel).hidden = panel !== id;
      });
    }

    function show(next) {
      index = next;
      const section = sections[index];
      $("section-title").textContent = section.title;
      $("section-summary").textContent = section.summary || "";
      showPicture(section.media);
      const body = $("section-body");
      body.textContent = "";
      body.appendChild(safeFragment(section.html || ""));
      $("part-progress").textContent = fmt(T.part_of, { number: index + 1, total: sections.length });
      $("previous-part").disabled = index === 0;
    }

    function choose() {
      showPanel("child-choose");
      $("choose-title").focus();
    }

    // The child's choices: a plain yes or no for each point, no "required" badge.
    const box = $("items");
    form.items.forEach(function (item) {
      const fieldset = el("fieldset", { class: "item card" });
      fieldset.appendChild(el("legend", { class: "item-text" }, item.text));
      yesNoOptions(fieldset, item);
      box.appendChild(fieldset);
    });

    $("previous-part").addEventListener("click", function () {
      account();
      show(index - 1);
    });
    $("next-part").addEventListener("click", function () {
      account();
      if (index < sections.length - 1) {
        show(index + 1);
        $("section").focus();
        return;
      }
      busy(this, async function () {
        await api("POST", base + "/views", {
          locale: form.locale,
          sections: Array.from(seconds, ([id, s]) => ({ id: id, seconds: Math.round(s * 10) / 10 })),
          client_at: new Date().toISOString(),
        });
        seconds.clear();
        choose();
      });
    });

    let choices = {};
    $("child-choose").addEventListener("submit", function (event) {
      event.preventDefault();
      choices = {};
      form.items.forEach(function (item) {
        const input = $("child-choose").querySelector('input[name="' + CSS.escape(item.id) + '"]:checked');
        if (input) {
          choices[item.id] = input.value === "yes";
        }
      });
      if (Object.keys(choices).length < form.items.length) {
        showError(T.child_choose_every);
        return;
      }
      clearError();
      // Saying no to taking part is the child's dissent: explained kindly, confirmed once.
      const saysNo = form.items.some((item) => item.required && choices[item.id] === false);
      showPanel(saysNo ? "child-no" : "child-sign");
      $(saysNo ? "child-no-title" : "child-sign-title").focus();
    });
    $("child-no-back").addEventListener("click", choose);
    $("child-no-confirm").addEventListener("click", function () {
      busy(this, async function () {
        await api("POST", "/me/dissent", { record_id: RECORD });
        $("child-done-text").textContent = T.child_thanks_no;
        showPanel("child-done");
        $("child-done").focus();
      });
    });

    const pad = window.ConsentkitSignature.attach($("signature-canvas"), $("clear-signature"));
    $("child-sign").addEventListener("submit", function (event) {
      event.preventDefault();
      const name = $("child-name").value.trim();
      const problem = !name ? T.child_write_name : pad.isEmpty() ? T.child_draw : null;
      if (problem) {
        showError(problem);
        return;
      }
      busy($("child-submit"), async function () {
        if (form.items.length) {
          await api("POST", base + "/choices", { choices: choices });
        }
        const now = new Date();
        await api("POST", base + "/signature", {
          locale: form.locale,
          content_sha256: form.content_sha256,
          printed_name: name,
          strokes: window.ConsentkitSignature.toStrokes(pad.toData()),
          client_at: now.toISOString(),
          client_offset_minutes: -now.getTimezoneOffset(),
        });
        $("child-done-text").textContent = T.child_thanks_yes;
        showPanel("child-done");
        $("child-done").focus();
      });
    });
    // Coming back after reading: straight to the choice.
    const task = await currentTask();
    showPanel("child-read");
    show(0);
    if (task && task.next_step === "done") {
      $("child-done-text").textContent = T.child_thanks_yes;
      showPanel("child-done");
    } else if (task && task.next_step !== "read") {
      choose();
    }
  };

  /** The signer's own yes/no for each consent item, shown where they sign. */
  function showChoicesSigned(form, task) {
    const choices = task && task.choices;
    if (!choices || !form.items || !form.items.length) {
      return;
    }
    const list = $("choices-signed-list");
    form.items.forEach(function (item) {
      if (!(item.id in choices)) {
        return;
      }
      const row = document.createElement("li");
      row.textContent = item.text + ": " + (choices[item.id] ? T.yes : T.no);
      list.appendChild(row);
    });
    $("choices-signed").hidden = false;
  }

  /** The VAPID key as the bytes PushManager.subscribe wants (it comes base64url). */
  function keyBytes(base64url) {
    const padded = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+")
      .replace(/_/g, "/");
    return Uint8Array.from(window.atob(padded), (c) => c.charCodeAt(0));
  }

  /**
   * "Be told on this phone": after signing, when the family waits for others, offer Web
   * Push. Asked only on a tap (never on load); the subscription goes to the server with
   * push as the signer's channel. Not offered without a key, without browser support, or
   * when notifications are blocked for the site.
   */
  async function offerPush() {
    const panel = $("push-panel");
    const supported =
      panel && data.push_key && "serviceWorker" in navigator && "PushManager" in window;
    if (!supported || !("Notification" in window) || Notification.permission === "denied") {
      return;
    }
    const scope = data.base;
    const existing = await navigator.serviceWorker.getRegistration(scope);
    if (existing && (await existing.pushManager.getSubscription())) {
      return; // already on for this phone
    }
    panel.hidden = false;
    $("push-on").addEventListener("click", function () {
      busy(this, async function () {
        const permission = await Notification.requestPermission();
        if (permission !== "granted") {
          showError(T.push_blocked);
          return;
        }
        try {
          const registration = await navigator.serviceWorker.register(scope + "sw.js", { scope });
          await navigator.serviceWorker.ready;
          const subscription = await registration.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: keyBytes(data.push_key),
          });
          await api("PATCH", "/me/contact-settings", {
            push_subscription: subscription.toJSON(),
            preferred_channel: "push",
          });
        } catch (error) {
          showError(T.push_failed);
          return;
        }
        panel.hidden = true;
        showStatus(T.push_on);
      });
    });
  }

  pages.done = async function () {
    const download = $("download-pdf");

    async function refresh() {
      const [task, form] = await Promise.all([currentTask(), loadForm()]);
      $("record-title").textContent = form.title;
      if (!task) {
        return;
      }
      // In this signer's words: "You have signed. Waiting for the other parent."
      $("record-state").textContent = task.status_text;
      const complete = task.phase === "consented";
      // The server says which copy this signer may have: final, interim (signed by
      // them, others awaited) or none.
      $("download-panel").hidden = !task.copy;
      $("interim-copy").hidden = task.copy !== "interim";
      if (complete) {
        showStatus(T.complete);
      }
    }

    $("check-again").addEventListener("click", function () {
      busy(this, refresh);
    });
    download.addEventListener("click", function () {
      // Sealing a copy takes a moment the first time: say so on the button and to screen readers.
      const label = download.textContent;
      download.textContent = T.preparing_copy;
      showStatus(T.preparing_copy);
      busy(download, async function () {
        const locale = store.getItem("ck.locale." + RECORD);
        const query = locale ? "?lang=" + encodeURIComponent(locale) : "";
        const response = await api(
          "GET",
          "/me/records/" + encodeURIComponent(RECORD) + "/document" + query,
          undefined,
          { raw: true }
        );
        const blob = await response.blob();
        const url = URL.createObjectURL(blob);
        // The server names the copy after the study, the form and the date.
        const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
        const link = el("a", { href: url, download: named ? named[1] : "consent-" + RECORD + ".pdf" });
        link.hidden = true;
        document.body.appendChild(link);
        link.click();
        link.remove();
        window.setTimeout(() => URL.revokeObjectURL(url), 60000);
        showStatus(T.downloaded);
      }).finally(function () {
        download.textContent = label;
      });
    });
    await refresh();
    await offerPush();
  };

  /** Withdrawing: plain choices, what they mean (from the server), then confirm with a code. */
  pages.withdraw = function () {
    const code = stepUp();
    const withdrawForm = $("withdraw-form");
    const choose = $("withdraw-choose");
    const review = $("withdraw-review");
    const declined = $("reason-declined");
    const reason = $("withdraw-reason");
    let chosen = [];
    declined.addEventListener("change", function () {
      reason.disabled = declined.checked;
    });
    $("change-withdrawal").addEventListener("click", function () {
      review.hidden = true;
      choose.hidden = false;
      code.reset();
    });
    withdrawForm.addEventListener("submit", function (event) {
      event.preventDefault();
      if (review.hidden) {
        chosen = Array.from(withdrawForm.querySelectorAll('input[name="choice"]:checked'), (i) => i.value);
        if (!chosen.length) {
          showError(T.choose_scope);
          return;
        }
        busy($("review-withdrawal"), async function () {
          const query = chosen.map((c) => "choice=" + encodeURIComponent(c)).join("&");
          const shown = await api("GET", "/me/withdrawals/summary?" + query);
          const list = $("withdraw-summary");
          list.textContent = "";
          shown.summary.forEach((line) => list.appendChild(el("li", {}, line)));
          choose.hidden = true;
          review.hidden = false;
          $("withdraw-review-title").focus();
        });
        return;
      }
      const problem = code.check();
      if (problem) {
        showError(problem);
        return;
      }
      busy($("submit-withdrawal"), async function () {
        await code.verify();
        const body = { choices: chosen, reason_declined: declined.checked };
        if (!declined.checked && reason.value.trim()) {
          body.reason = reason.value.trim();
        }
        let result;
        try {
          result = await api("POST", "/me/withdrawals", body);
        } catch (error) {
          code.reset();
          throw new ApiError(error.status, {
            message: error.message + " " + T.new_code_needed,
            error: error.error,
          });
        }
        withdrawForm.hidden = true;
        $("withdraw-when").textContent = formatDate(result.at, true);
        const done = $("withdraw-done");
        done.hidden = false;
        done.focus();
      });
    });
  };

  /**
   * The family's wallet (``GET /me/wallet``): each child and study, the records with their
   * state in the signer's words, the agreements now and the documents; an optional choice
   * is changed with a fresh code (``POST /me/wallet/choices``). Every rule is the server's:
   * the page shows ``status_text``, ``agreed`` and ``changeable`` as given.
   */
  pages.wallet = async function () {
    const box = $("wallet-children");
    const panel = $("change-choice");
    const form = $("change-choice-form");
    const code = stepUp();
    let changing = null;
    let opener = null;

    function answerWord(value) {
      return value === true ? T.yes : value === false ? T.no : "";
    }

    function closePanel() {
      panel.hidden = true;
      changing = null;
      code.reset();
      if (opener && document.body.contains(opener)) {
        opener.focus();
      }
    }

    function itemRow(record, item) {
      const row = el("li", { class: "item", "data-item": item.item_id });
      row.appendChild(el("p", {}, item.text));
      row.appendChild(
        el("p", { class: "badge" }, item.required ? T.required_item : T.optional_item)
      );
      if (item.current !== null && item.current !== undefined) {
        row.appendChild(
          el("p", { class: "wallet-answer" }, fmt(T.wallet_your_answer, { answer: answerWord(item.current) }))
        );
        if (item.signed !== item.current) {
          row.appendChild(
            el("p", { class: "hint" }, fmt(T.wallet_signed_answer, { answer: answerWord(item.signed) }))
          );
        }
      }
      if (item.changeable) {
        const change = el(
          "button",
          {
            type: "button",
            class: "button secondary wallet-change",
            "aria-label": fmt(T.wallet_change_label, { item: item.text }),
          },
          T.wallet_change
        );
        change.addEventListener("click", function () {
          changing = { record: record, item: item };
          opener = change;
          $("change-choice-item").textContent = item.text;
          $("change-choice-now").textContent = fmt(T.wallet_your_answer, {
            answer: answerWord(item.current),
          });
          // The other answer is offered: the one that would change something.
          $(item.current ? "new-choice-no" : "new-choice-yes").checked = true;
          code.reset();
          panel.hidden = false;
          $("change-choice-title").focus();
        });
        row.appendChild(change);
      }
      return row;
    }

    function childSection(child, index) {
      const section = el("section", { class: "panel wallet-child", "aria-labelledby": "child-" + index });
      section.appendChild(el("h2", { id: "child-" + index }, child.study_title));
      section.appendChild(el("p", { class: "lead" }, fmt(T.wallet_child, { code: child.participant_code })));
      section.appendChild(
        el(
          "p",
          { class: "hint" },
          fmt(T.wallet_you_sign_as, { role: strings.signer_role[child.role] || child.role }) +
            (child.is_current ? " · " + T.wallet_signed_in_for : "")
        )
      );
      section.appendChild(el("h3", {}, T.wallet_agreed_now));
      const agreed = el("ul", { class: "wallet-agreements" });
      child.agreements.forEach(function (agreement) {
        agreed.appendChild(
          el(
            "li",
            { "data-activity": agreement.activity, "data-agreed": String(agreement.agreed) },
            agreement.text + ": " + (agreement.agreed ? T.wallet_agreed : T.wallet_not_agreed)
          )
        );
      });
      section.appendChild(agreed);
      section.appendChild(el("h3", {}, T.wallet_records));
      const records = el("ul", { class: "cards" });
      child.records.forEach(function (record) {
        const card = el("li", { class: "card wallet-record", "data-record": record.record_id });
        card.appendChild(el("h4", {}, record.title));
        card.appendChild(
          el("p", { class: "hint" }, (strings.form_kind[record.form_kind] || record.form_kind) + " · v" + record.version)
        );
        card.appendChild(el("p", { class: "state" }, record.status_text));
        if (record.items.length) {
          const items = el("ul", { class: "wallet-items" });
          record.items.forEach((item) => items.appendChild(itemRow(record, item)));
          card.appendChild(items);
        }
        records.appendChild(card);
      });
      section.appendChild(records);
      section.appendChild(el("h3", {}, T.wallet_documents));
      if (!child.documents.length) {
        section.appendChild(el("p", { class: "hint" }, T.wallet_no_documents));
      } else {
        const documents = el("ul", { class: "wallet-documents" });
        child.documents.forEach(function (doc) {
          const item = el(
            "li",
            { "data-document": doc.document_id },
            fmt(T.wallet_document, { date: formatDate(doc.created_at, false), code: doc.verification_code })
          );
          const download = el("button", { type: "button", class: "button secondary" }, T.wallet_download);
          download.addEventListener("click", function () {
            busy(download, async function () {
              const response = await api(
                "GET",
                "/me/wallet/documents/" + encodeURIComponent(doc.document_id),
                undefined,
                { raw: true }
              );
              const url = URL.createObjectURL(await response.blob());
              const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
              const save = el("a", { href: url, download: named ? named[1] : "document.pdf" });
              save.hidden = true;
              document.body.appendChild(save);
              save.click();
              save.remove();
              window.setTimeout(() => URL.revokeObjectURL(url), 60000);
              showStatus(T.downloaded);
            });
          });
          item.appendChild(el("br"));
          item.appendChild(download);
          documents.appendChild(item);
        });
        section.appendChild(documents);
      }
      return section;
    }

    async function show() {
      box.setAttribute("aria-busy", "true");
      const wallet = await api("GET", "/me/wallet");
      box.replaceChildren();
      if (!wallet.children.length) {
        box.appendChild(el("p", {}, T.wallet_nothing));
      }
      wallet.children.forEach((child, index) => box.appendChild(childSection(child, index)));
      box.setAttribute("aria-busy", "false");
    }

    $("cancel-choice").addEventListener("click", closePanel);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const picked = form.querySelector('input[name="new-choice"]:checked');
      if (!changing || !picked) {
        showError(T.wallet_choose_new);
        return;
      }
      const problem = code.check();
      if (problem) {
        showError(problem);
        return;
      }
      busy($("submit-choice"), async function () {
        await code.verify();
        try {
          await api("POST", "/me/wallet/choices", {
            record_id: changing.record.record_id,
            item_id: changing.item.item_id,
            value: picked.value === "yes",
          });
        } catch (error) {
          code.reset();
          throw new ApiError(error.status, {
            message: error.message + " " + T.new_code_needed,
            error: error.error,
          });
        }
        const item = changing.item.item_id;
        const record = changing.record.record_id;
        panel.hidden = true;
        changing = null;
        code.reset();
        await show();
        showStatus(T.wallet_changed);
        // Back to the answer just changed, so a keyboard user keeps their place.
        const row = box.querySelector(
          '[data-record="' + CSS.escape(record) + '"] [data-item="' + CSS.escape(item) + '"] .wallet-answer'
        );
        if (row) {
          row.setAttribute("tabindex", "-1");
          row.focus();
        }
      });
    });
    await show();
  };

  /** The task list's withdrawals panel: each withdrawal, what it means, its sealed confirmation. */
  async function showWithdrawals() {
    const panel = $("withdrawals");
    if (!panel) {
      return;
    }
    const withdrawals = await api("GET", "/me/withdrawals");
    const list = $("withdrawal-list");
    list.textContent = "";
    withdrawals.forEach(function (withdrawal) {
      const item = el("li", { class: "card" });
      item.appendChild(el("p", { class: "hint" }, formatDate(withdrawal.at, true)));
      const meaning = el("ul");
      withdrawal.summary.forEach((line) => meaning.appendChild(el("li", {}, line)));
      item.appendChild(meaning);
      const link = el("button", { type: "button", class: "button secondary" }, panel.dataset.download);
      link.addEventListener("click", function () {
        busy(link, async function () {
          const response = await api("GET", withdrawal.document, undefined, { raw: true });
          const url = URL.createObjectURL(await response.blob());
          const save = el("a", { href: url, download: "withdrawal-" + withdrawal.seq + ".pdf" });
          save.hidden = true;
          document.body.appendChild(save);
          save.click();
          save.remove();
          window.setTimeout(() => URL.revokeObjectURL(url), 60000);
          showStatus(T.downloaded);
        });
      });
      item.appendChild(link);
      list.appendChild(item);
    });
    panel.hidden = !withdrawals.length;
  }

  // Study news and the summary of results: opening one records that it was read, once.
  pages.news = async function () {
    const list = $("news-list");
    const query = data.lang_chosen ? "?lang=" + encodeURIComponent(LANG) : "";
    const items = await api("GET", "/me/news" + query);
    list.replaceChildren();
    list.setAttribute("aria-busy", "false");
    $("no-news").hidden = items.length > 0;
    items.forEach(function (item) {
      const entry = el("li", { class: "card", "data-publication": item.id, "data-kind": item.kind });
      const details = el("details", { lang: item.locale });
      const summary = el("summary");
      summary.appendChild(el("span", { class: "news-title" }, item.title));
      summary.appendChild(el("span", { class: "hint" }, " · " + formatDate(item.published_at)));
      if (item.kind === "results") {
        summary.appendChild(el("span", { class: "hint" }, " · " + T.news_results));
      }
      details.appendChild(summary);
      item.body.split(/\n\s*\n/).forEach(function (paragraph) {
        details.appendChild(el("p", {}, paragraph));
      });
      let read = item.is_read;
      details.addEventListener("toggle", function () {
        if (details.open && !read) {
          read = true;
          api("POST", "/me/news/" + encodeURIComponent(item.id) + "/read", {}).catch(function () {
            read = false;
          });
        }
      });
      entry.appendChild(details);
      list.appendChild(entry);
    });
  };

  pages["sign-out"] = async function () {
    const token = store.getItem(KEY.access);
    forgetSession();
    if (token) {
      try {
        await fetch(API + "/auth/logout", {
          method: "POST",
          headers: { Authorization: "Bearer " + token, "Accept-Language": LANG },
          credentials: "omit",
        });
      } catch (error) {
        // Signed out here already; the server session ends at its expiry.
      }
    }
  };

  // ------------------------------------------------------------------ start

  const PUBLIC = new Set(["start", "code", "sign-out"]);
  const page = pages[data.page];
  if (!page) {
    return;
  }
  if (!PUBLIC.has(data.page) && !requireSignIn()) {
    return;
  }
  $("account-nav").hidden = !signedIn() || data.page === "sign-out";
  const PUBLIC_PAGE = PUBLIC.has(data.page);
  offerQuestions();
  if (RECORD) {
    showSteps().catch(function () {
      // The indicator is a help; the page works without it.
    });
  }
  Promise.resolve()
    .then(async function () {
      if (PUBLIC_PAGE || (await applyLanguage().catch(() => true))) {
        return page();
      }
      return undefined;
    })
    .catch(function (error) {
      if (error.error !== "signed-out") {
        showError(error.message || T.network);
      }
    });
})();
