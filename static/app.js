/* The site's only script. The Content-Security-Policy allows scripts from our own files alone, so
   pages carry no inline script or handler: they describe what they need in data- attributes and
   this file wires it up. Every page works without it, except the live refresh and autosave. */
(function () {
  'use strict';

  // <form data-confirm="…">: ask before submitting; "{amount}" is the form's amount as typed.
  document.addEventListener('submit', function (event) {
    var message = event.target.dataset && event.target.dataset.confirm;
    var amount = event.target.querySelector && event.target.querySelector('input[name=amount]');
    if (message && amount) {
      if (!amount.value.trim()) return;          // the server answers an empty amount with its own message
      message = message.replace('{amount}', amount.value.trim());
    }
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // The member's pay code: a new one every refresh interval (the page route takes the CSRF token).
  // On the home page it appears only when the member taps 出示付款码: no code is made unasked.
  var qr = document.getElementById('pay-qr');
  if (qr && qr.dataset.refreshUrl) {
    var text = document.querySelector('[data-testid=pay-token]');
    var csrf = document.querySelector('meta[name=csrf-token]').content;
    var refresh = function () {
      fetch(qr.dataset.refreshUrl, {method: 'POST', credentials: 'same-origin',
        headers: {'X-CSRFToken': csrf, 'Accept': 'application/json'}})
        .then(function (r) {
          return r.json().then(function (body) {
            if (!r.ok) { throw new Error(body.error && body.error.message); }
            return body;
          });
        })
        .then(function (code) { qr.innerHTML = code.svg; qr.dataset.token = code.token; text.textContent = code.token; })
        .catch(function (e) { text.textContent = e.message || qr.dataset.refreshError; });
    };
    var every = parseInt(qr.dataset.refreshSeconds, 10) * 1000;
    var reveal = document.getElementById('pay-reveal');
    if (reveal) {
      reveal.addEventListener('click', function () {
        refresh();
        Array.prototype.forEach.call(document.querySelectorAll('#home-pay [hidden]'), function (e) { e.hidden = false; });
        reveal.hidden = true;
        setInterval(refresh, every);
      });
    } else {
      setInterval(refresh, every);
    }
  }

  // A quiz attempt: every answer is saved as it is picked (JSON, so the API takes the session).
  var form = document.getElementById('quiz-form');
  if (form && form.dataset.answersUrl) {
    form.addEventListener('change', function (event) {
      var name = event.target.name;
      if (!name || name.charAt(0) !== 'q') return;
      var picked = Array.prototype.map.call(form.querySelectorAll('input[name="' + name + '"]:checked'), function (i) { return i.value; });
      if (!picked.length) return;
      var answers = {}; answers[name.slice(1)] = picked;
      fetch(form.dataset.answersUrl, {method: 'PUT', headers: {'Content-Type': 'application/json'}, credentials: 'same-origin',
                                      body: JSON.stringify({answers: answers})});
    });
  }
  // Handing in with questions left blank: say how many, and let the member go back.
  if (form && form.dataset.answersUrl) {
    form.addEventListener('submit', function (event) {
      var blank = Array.prototype.filter.call(form.querySelectorAll('.question'), function (q) {
        return !q.querySelector('input:checked');
      }).length;
      if (blank && !window.confirm(form.dataset.unanswered.replace('{n}', blank))) {
        event.preventDefault();
      }
    });
  }
  var clockEl = document.getElementById('countdown');
  if (clockEl) {
    var left = parseInt(clockEl.dataset.seconds, 10);
    setInterval(function () {
      left = Math.max(0, left - 1);
      clockEl.textContent = Math.floor(left / 60) + ':' + ('0' + (left % 60)).slice(-2);
    }, 1000);
  }
})();

// The organisation picker: <input data-org-picker="/api/v1/organisations"> keeps the code the server
// reads; a panel under it browses the admin's own union as a tree and searches names and codes.
(function () {
  'use strict';
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }
  Array.prototype.forEach.call(document.querySelectorAll('input[data-org-picker]'), function (input) {
    var url = input.dataset.orgPicker;
    var labels = (input.dataset.orgPickerLabels || '').split('|');   // open, search, children, none, chosen
    var open = el('button', 'button secondary small org-picker-open', labels[0]);
    open.type = 'button';
    var panel = el('div', 'org-picker');
    panel.hidden = true;
    var search = el('input', 'org-picker-search');
    search.type = 'search';
    search.placeholder = labels[1];
    search.setAttribute('aria-label', labels[1]);
    var trail = el('div', 'org-picker-trail');
    var list = el('ul', 'org-picker-list');
    var chosen = el('small', 'muted org-picker-chosen');
    panel.appendChild(search);
    panel.appendChild(trail);
    panel.appendChild(list);
    input.insertAdjacentElement('afterend', panel);
    input.insertAdjacentElement('afterend', chosen);
    input.insertAdjacentElement('afterend', open);

    function load(query, crumbs) {
      fetch(url + '?' + query, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (orgs) { show(orgs, crumbs); })
        .catch(function () { list.textContent = labels[3]; });
    }
    function show(orgs, crumbs) {
      list.textContent = '';
      trail.textContent = '';
      (crumbs || []).forEach(function (c, i) {
        var a = el('button', 'link', c.name);
        a.type = 'button';
        a.addEventListener('click', function () { browse(crumbs.slice(0, i + 1)); });
        trail.appendChild(a);
        if (i < crumbs.length - 1) trail.appendChild(document.createTextNode(' › '));
      });
      if (!orgs.length) { list.appendChild(el('li', 'muted', labels[3])); return; }
      orgs.forEach(function (org) {
        var li = el('li');
        var pick = el('button', 'org-picker-item', org.name);
        pick.type = 'button';
        pick.appendChild(el('small', 'muted', ' ' + org.code));
        pick.dataset.testid = 'org-option';
        pick.addEventListener('click', function () {
          input.value = org.code;
          chosen.textContent = labels[4] + org.name;
          panel.hidden = true;
          input.dispatchEvent(new Event('change', {bubbles: true}));
        });
        li.appendChild(pick);
        var current = crumbs && crumbs.length && crumbs[crumbs.length - 1].id === org.id;
        if (org.level !== 'grassroots' && !current) {
          var down = el('button', 'button secondary small', labels[2] + ' ›');
          down.type = 'button';
          down.addEventListener('click', function () { browse((crumbs || []).concat([org])); });
          li.appendChild(down);
        }
        list.appendChild(li);
      });
    }
    function browse(crumbs) {
      search.value = '';
      if (!crumbs.length) { load('', []); return; }
      var last = crumbs[crumbs.length - 1];
      fetch(url + '?parent_id=' + last.id, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
        .then(function (r) { return r.json(); })
        .then(function (orgs) { show([last].concat(orgs), crumbs); });
    }
    var timer;
    search.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (search.value.trim()) load('q=' + encodeURIComponent(search.value.trim()), []);
        else browse([]);
      }, 200);
    });
    search.addEventListener('keydown', function (e) { if (e.key === 'Enter') e.preventDefault(); });
    open.addEventListener('click', function () {
      panel.hidden = !panel.hidden;
      if (!panel.hidden) { browse([]); search.focus(); }
    });
  });

  // <select multiple data-filter="…"> (merchants, stores): a search box above it hides the options
  // that do not match, so a long list can be narrowed on a phone.
  Array.prototype.forEach.call(document.querySelectorAll('select[data-filter]'), function (select) {
    var box = el('input', 'select-filter');
    box.type = 'search';
    box.placeholder = select.dataset.filter;
    box.setAttribute('aria-label', select.dataset.filter);
    select.insertAdjacentElement('beforebegin', box);
    box.addEventListener('input', function () {
      var text = box.value.trim().toLowerCase();
      Array.prototype.forEach.call(select.options, function (o) {
        o.hidden = !!text && o.textContent.toLowerCase().indexOf(text) < 0 && !o.selected;
      });
    });
  });

  // Fields that only some choices need: <div data-show-when="kind=threshold,repeating">.
  var togglers = document.querySelectorAll('[data-show-when]');
  function refresh() {
    Array.prototype.forEach.call(togglers, function (block) {
      var rule = block.dataset.showWhen.split('=');
      var source = document.querySelector('[name="' + rule[0] + '"]');
      if (source) block.hidden = rule[1].split(',').indexOf(source.value) < 0;
    });
  }
  if (togglers.length) {
    document.addEventListener('change', refresh);
    refresh();
  }
  var summary = document.querySelector('[data-testid=error-summary]');
  if (summary) summary.focus();
})();
