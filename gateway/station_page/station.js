// Live updates: fetch the server-rendered live part every few seconds and swap it in.
// Without scripts the page reloads itself instead (a <noscript> refresh).
(function () {
  var live = document.getElementById("live");
  var url = live.getAttribute("data-refresh");
  function update() {
    fetch(url, {cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { live.innerHTML = html; live.classList.remove("stale"); })
      .catch(function () { live.classList.add("stale"); })
      .finally(function () { setTimeout(update, 2000); });
  }
  setTimeout(update, 2000);
})();
