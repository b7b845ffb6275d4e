// The station page: a USB scanner (a keyboard that types the QR's text and presses Enter),
// the device's camera (jsQR), or a licence number, each posted to the scan API; the answer is
// shown big, in green or red, with a sound.
(function () {
  "use strict";
  const form = document.getElementById("scan-form");
  const input = document.getElementById("scan-input");
  const manual = document.getElementById("manual-form");
  const panel = document.getElementById("scan-result");
  const labels = document.getElementById("scan-labels").dataset;
  const station = Number(form.dataset.station);
  let busy = false;

  function beep(ok) {
    try {
      const audio = new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.type = ok ? "sine" : "square";
      tone.frequency.value = ok ? 880 : 220;
      gain.gain.value = 0.15;
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + (ok ? 0.15 : 0.45));
    } catch (e) { /* no audio: the colours still say it */ }
  }

  function show(result) {
    const ok = result.accepted;
    panel.className = "scan-result pulse " + (ok ? "is-accepted" : "is-refused");
    panel.querySelector(".scan-result-icon i").className = "bi " + (ok ? "bi-check-circle-fill" : "bi-x-octagon-fill");
    let headline = labels.refused;
    if (ok) headline = result.duplicate ? labels.duplicate : labels[result.direction];
    panel.querySelector("[data-headline]").textContent = headline;
    panel.querySelector("[data-name]").textContent = result.driver ? result.driver.name : "";
    panel.querySelector("[data-detail]").textContent = ok ? (result.driver.company || "") : result.message;
    const photo = panel.querySelector(".scan-result-photo");
    photo.innerHTML = "";
    if (result.driver && result.driver.photo_url) {
      const img = document.createElement("img");
      img.src = result.driver.photo_url;
      img.alt = "";
      img.className = "avatar avatar-xl";
      photo.appendChild(img);
    }
    beep(ok);
  }

  function showError(message) {
    panel.className = "scan-result pulse is-refused";
    panel.querySelector("[data-headline]").textContent = labels.error;
    panel.querySelector("[data-name]").textContent = "";
    panel.querySelector("[data-detail]").textContent = message;
    beep(false);
  }

  async function record(body) {
    if (busy) return;
    busy = true;
    try {
      const response = await fetch(form.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": FlowSuite.csrfToken() },
        body: JSON.stringify(Object.assign({ station }, body)),
      });
      const data = await response.json();
      if (response.ok) show(data);
      else showError(data.error ? data.error.message : response.statusText);
    } catch (error) {
      showError(error.message);
    } finally {
      busy = false;
      input.value = "";
      input.focus();
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token) record({ token });
  });
  manual.addEventListener("submit", (event) => {
    event.preventDefault();
    const field = manual.querySelector("[name=licence_number]");
    if (field.value.trim()) record({ licence_number: field.value.trim() });
    field.value = "";
  });
  // A scanner types wherever the focus is: keep it on the scanner field.
  document.addEventListener("click", (event) => {
    if (!event.target.closest("input, button, a, summary, select, textarea")) input.focus();
  });

  // --- camera -------------------------------------------------------------------------------
  const toggle = document.getElementById("camera-toggle");
  const frame = document.getElementById("camera-frame");
  const video = document.getElementById("camera");
  const canvas = document.createElement("canvas");
  let stream = null;
  let lastCode = "";
  let lastAt = 0;

  async function startCamera() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (error) {
      document.getElementById("camera-error").classList.remove("d-none");
      return;
    }
    video.srcObject = stream;
    await video.play();
    frame.classList.remove("d-none");
    toggle.textContent = toggle.dataset.stop;
    requestAnimationFrame(readFrame);
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    frame.classList.add("d-none");
    toggle.textContent = toggle.dataset.start;
  }

  function readFrame() {
    if (!stream) return;
    if (video.readyState === video.HAVE_ENOUGH_DATA) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0);
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
      const code = jsQR(pixels.data, pixels.width, pixels.height, { inversionAttempts: "dontInvert" });
      const now = Date.now();
      // The same badge held in front of the camera is one scan, not one per frame.
      if (code && code.data && (code.data !== lastCode || now - lastAt > 4000)) {
        lastCode = code.data;
        lastAt = now;
        record({ token: code.data });
      }
    }
    setTimeout(() => requestAnimationFrame(readFrame), 150);
  }

  toggle.addEventListener("click", () => (stream ? stopCamera() : startCamera()));
})();
