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
  var qr = document.getElementById('pay-qr');
  if (qr && qr.dataset.refreshUrl) {
    var text = document.querySelector('[data-testid=pay-token]');
    var csrf = document.querySelector('meta[name=csrf-token]').content;
    var refresh = function () {
      fetch(qr.dataset.refreshUrl, {method: 'POST', credentials: 'same-origin',
        headers: {'X-CSRFToken': csrf, 'Accept': 'application/json'}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (code) { qr.innerHTML = code.svg; qr.dataset.token = code.token; text.textContent = code.token; })
        .catch(function () { text.textContent = qr.dataset.refreshError; });
    };
    setInterval(refresh, parseInt(qr.dataset.refreshSeconds, 10) * 1000);
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
