// PerchRules: what a device decides on its own, as pure state machines the agent drives.
//
// - Conditions (`air > 30`, `door == open`) and their evaluation against the latest readings.
// - Alerts: when a condition starts and stops holding (with `for`, hysteresis, reminders, mutes).
// - Rules: a command when a condition starts holding, another when it stops, with a person's
//   override taking precedence.
// - Schedules: daily times and cron lines in the system's time zone, through daylight-saving days
//   and wall-clock jumps.
//
// Nothing here reads a clock or does I/O beyond loading a time zone file: the agent passes the
// time in, so tests drive days in milliseconds.
