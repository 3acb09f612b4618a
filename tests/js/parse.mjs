// Parse each iCalendar file named on the command line with ical.js and print what it read as
// JSON, one object per file. A parse error is reported, not thrown, so the Python test can say
// which file failed.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

function describe(path) {
  const text = readFileSync(path, "utf8");
  const calendar = new ICAL.Component(ICAL.parse(text));
  for (const zone of calendar.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(zone);
  }
  const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    return {
      uid: event.uid,
      sequence: event.sequence,
      summary: event.summary,
      start: event.startDate.toJSDate().toISOString(),
      end: event.endDate.toJSDate().toISOString(),
      tzid: event.startDate.zone ? event.startDate.zone.tzid : null,
      status: vevent.getFirstPropertyValue("status"),
      organizer: vevent.getFirstPropertyValue("organizer"),
      attendees: vevent.getAllProperties("attendee").map((a) => ({
        value: a.getFirstValue(),
        partstat: a.getParameter("partstat"),
        rsvp: a.getParameter("rsvp"),
      })),
    };
  });
  return {
    path,
    method: calendar.getFirstPropertyValue("method"),
    timezones: calendar.getAllSubcomponents("vtimezone").map((z) => z.getFirstPropertyValue("tzid")),
    events,
  };
}

for (const path of process.argv.slice(2)) {
  try {
    console.log(JSON.stringify(describe(path)));
  } catch (error) {
    console.log(JSON.stringify({ path, error: String(error) }));
  }
}
