/* consentkit family pages' service worker (scope /family/): shows the study's Web Push
   messages as notifications and opens the family's tasks when one is tapped. It caches
   nothing: the pages always come from the server. The payload is the worker's JSON
   {title, body, id} (consentkit/channels/webpush.py); id makes a resent message replace
   the one already shown instead of stacking. */
/* eslint-env serviceworker */
"use strict";

self.addEventListener("push", function (event) {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  const title = typeof data.title === "string" && data.title ? data.title : "consentkit";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: typeof data.body === "string" ? data.body.slice(0, 400) : "",
      tag: typeof data.id === "string" ? data.id : undefined,
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  const tasks = new URL("tasks", self.registration.scope).toString();
  event.waitUntil(self.clients.openWindow(tasks));
});
