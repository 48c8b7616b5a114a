// The campaign page's two conveniences, as a static file (the Content Security Policy allows
// no inline script): "Select all" ticks every item one may decide, and the delegate form
// carries the items ticked in the decide form.
document.addEventListener("DOMContentLoaded", () => {
  const all = document.querySelector("input[data-select-all]");
  if (all) {
    all.addEventListener("change", () => {
      document.querySelectorAll("input[name=items][form=decide-form]:not(:disabled)").forEach((box) => { box.checked = all.checked; });
    });
  }
  const delegate = document.querySelector("form[data-carry-selected]");
  if (delegate) {
    delegate.addEventListener("submit", () => {
      delegate.querySelectorAll("input[data-carried]").forEach((h) => h.remove());
      document.querySelectorAll("input[name=items][form=decide-form]:checked").forEach((box) => {
        const hidden = document.createElement("input");
        Object.assign(hidden, { type: "hidden", name: "items", value: box.value });
        hidden.dataset.carried = "1";
        delegate.appendChild(hidden);
      });
    });
  }
});
