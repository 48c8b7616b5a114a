// Long actions (Collect now, Evaluate now, Build pack, Start campaign) are queued for a worker and
// the page that follows shows their progress. Between the click and that page, the button is
// disabled and says what is happening, so a second click cannot queue the same work twice.
// A static file: the Content Security Policy allows no inline script.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.matches("form[data-busy]")) return;
  form.querySelectorAll("button[type=submit], button:not([type])").forEach((button) => {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.textContent = form.dataset.busy || "Starting…";
  });
});
