// Alerts, rules and automations pages.
//
// - Forms: an element with data-show-if="<field>:<value>,<value>" shows only while the form's
//   <field> has one of those values (a rule's kind, an automation's trigger and action).
//   Without JavaScript every field shows, and the server ignores those that do not apply.
// - The alert list (#alert-list[data-alert-live="user.<id>"]) is rendered again from the server
//   on each "alert" event of the user's group, keeping what was being typed in a comment.
// - A linked alert (?alert=<id>, from an e-mail) is scrolled into view.
(function () {
  "use strict";

  function fieldValue(form, name) {
    const controls = form.querySelectorAll('[name="' + name + '"]');
    for (const control of controls) {
      if ((control.type === "radio" || control.type === "checkbox") && !control.checked) continue;
      return control.value;
    }
    return "";
  }

  function setupDependentFields(form) {
    const dependents = form.querySelectorAll("[data-show-if]");
    if (!dependents.length) return;
    const update = () => {
      dependents.forEach((element) => {
        const [name, values] = element.dataset.showIf.split(":");
        element.hidden = !values.split(",").includes(fieldValue(form, name));
      });
    };
    form.addEventListener("change", update);
    update();
  }

  function setupLiveAlerts(region) {
    let timer = null;
    let busy = false;

    async function refresh() {
      if (busy) {
        timer = setTimeout(refresh, 250);
        return;
      }
      busy = true;
      try {
        const response = await fetch(location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } });
        if (!response.ok) return;
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById(region.id);
        if (!fresh || fresh.innerHTML === region.innerHTML) return;
        replace(fresh);
      } finally {
        busy = false;
      }
    }

    function replace(fresh) {
      const known = new Set([...region.querySelectorAll("[data-alert]")].map((el) => el.dataset.alert));
      const typed = {};
      region.querySelectorAll("[data-keep]").forEach((input) => {
        if (input.value) typed[input.dataset.keep] = input.value;
      });
      const focused = document.activeElement && region.contains(document.activeElement) ? document.activeElement.dataset.keep : null;
      region.innerHTML = fresh.innerHTML;
      region.querySelectorAll("[data-keep]").forEach((input) => {
        if (typed[input.dataset.keep]) input.value = typed[input.dataset.keep];
        if (focused && input.dataset.keep === focused) input.focus();
      });
      region.querySelectorAll("[data-alert]").forEach((element) => {
        if (!known.has(element.dataset.alert)) element.classList.add("is-new");
      });
    }

    FlowLive.subscribe(region.dataset.alertLive, (event) => {
      if (event.type !== "alert") return;
      clearTimeout(timer);
      timer = setTimeout(refresh, 200);
    });
  }

  document.querySelectorAll("form").forEach(setupDependentFields);
  const region = document.getElementById("alert-list");
  if (region && window.FlowLive && region.dataset.alertLive) setupLiveAlerts(region);
  const linked = document.querySelector(".alert-card.is-linked");
  if (linked) linked.scrollIntoView({ block: "center" });
})();
