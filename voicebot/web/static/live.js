// Swap in a page's live part whenever the server sends a new rendering (Server-Sent Events).
document.querySelectorAll("[data-live]").forEach(function (box) {
  var source = new EventSource(box.getAttribute("data-live"));
  var updates = 0;
  source.addEventListener("update", function (event) {
    box.innerHTML = event.data;
    updates += 1;
    box.setAttribute("data-updates", String(updates));
  });
  source.onerror = function () { box.classList.add("stale"); };
  source.onopen = function () { box.classList.remove("stale"); };
});
