// Drives a live Plaudit server through Trophy's official Node SDK and prints one JSON
// document of what the SDK returned; tests/compat/test_node_sdk.py asserts on it.
//
//   node scenario.cjs events|users|errors|streakEvents|streakRankings
//
// Environment: PLAUDIT_APP_URL, PLAUDIT_ADMIN_URL, PLAUDIT_API_KEY, PLAUDIT_METRIC (an
// existing metric key) and PLAUDIT_RUN (a unique prefix for the user ids this run makes).
"use strict";

const { TrophyApiClient, TrophyApiError } = require("@trophyso/node");

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const environment = { api: required("PLAUDIT_APP_URL"), admin: required("PLAUDIT_ADMIN_URL") };
const apiKey = required("PLAUDIT_API_KEY");
const metric = required("PLAUDIT_METRIC");
const run = required("PLAUDIT_RUN");
// No retries: a 5xx or 409 must surface, not be retried away.
const once = { maxRetries: 0 };

const client = new TrophyApiClient({ apiKey, environment });

// A parsed User, with its dates shown as the SDK parsed them (Date objects).
function user(parsed) {
  return {
    ...parsed,
    created: parsed.created instanceof Date ? parsed.created.toISOString() : "not a Date",
    updated: parsed.updated instanceof Date ? parsed.updated.toISOString() : "not a Date",
  };
}

// The error an SDK call raised: its class, status and the server's message.
async function failure(call) {
  try {
    const value = await call();
    return { raised: false, value };
  } catch (error) {
    if (!(error instanceof TrophyApiError)) {
      throw error;
    }
    return {
      raised: true,
      type: error.constructor.name,
      statusCode: error.statusCode,
      error: error.body && error.body.error,
    };
  }
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

const scenarios = {
  async events() {
    const id = `${run}-events`;
    const first = await client.metrics.event(metric, { user: { id, tz: "UTC" }, value: 0.1 }, once);
    const request = { user: { id }, value: 0.2, idempotencyKey: `${run}-key` };
    const keyed = await client.metrics.event(metric, request, once);
    const replay = await client.metrics.event(metric, request, once);
    return {
      first,
      keyed,
      replay,
      allMetrics: await client.users.allMetrics(id, once),
      singleMetric: await client.users.singleMetric(id, metric, once),
      summary: await client.users.metricEventSummary(
        id,
        metric,
        { aggregation: "daily", startDate: today(), endDate: today() },
        once,
      ),
    };
  },

  async users() {
    const id = `${run}-users`;
    const created = await client.users.create(
      { id, name: "Ada", email: "ada@example.com", tz: "Europe/London" },
      once,
    );
    const fetched = await client.users.get(id, once);
    const identified = await client.users.identify(id, { name: "Ada L." }, once);
    const updated = await client.users.update(id, { subscribeToEmails: false }, once);
    const upserted = await client.users.identify(`${run}-new`, { name: "New" }, once);
    const preferencesBefore = await client.users.getPreferences(id, once);
    await client.users.updatePreferences(id, { notifications: { recap: ["email"] } }, once);
    const preferences = await client.users.updatePreferences(
      id,
      { notifications: { streakReminder: ["push", "email"] } },
      once,
    );
    return {
      created: user(created),
      fetched: user(fetched),
      identified: user(identified),
      updated: user(updated),
      upserted: user(upserted),
      preferencesBefore,
      preferences,
    };
  },

  async errors() {
    const id = `${run}-errors`;
    await client.users.create({ id }, once);
    const stranger = new TrophyApiClient({ apiKey: "nonsense", environment });
    return {
      badKey: await failure(() => stranger.users.get(id, once)),
      existingUser: await failure(() => client.users.create({ id }, once)),
      unknownUserGet: await failure(() => client.users.get(`${run}-ghost`, once)),
      unknownUserUpdate: await failure(() =>
        client.users.update(`${run}-ghost`, { name: "X" }, once),
      ),
      unknownUserMetrics: await failure(() => client.users.allMetrics(`${run}-ghost`, once)),
      unknownMetric: await failure(() =>
        client.metrics.event(`${metric}-missing`, { user: { id }, value: 1 }, once),
      ),
      undeclaredAttribute: await failure(() =>
        client.metrics.event(metric, { user: { id }, value: 1, attributes: { colour: "red" } }, once),
      ),
      invalidTimeZone: await failure(() => client.users.identify(id, { tz: "Mars/Base" }, once)),
      nameTooLong: await failure(() => client.users.identify(id, { name: "x".repeat(300) }, once)),
    };
  },

  // Three users start a streak on PLAUDIT_METRIC (the test made it the streak metric).
  async streakEvents() {
    const people = [
      { id: `${run}-streak-a`, name: "Ann" },
      { id: `${run}-streak-b` },
      { id: `${run}-streak-c`, name: "Cid" },
    ];
    const lengths = [];
    for (const person of people) {
      const response = await client.metrics.event(
        metric,
        { user: { ...person, tz: "UTC" }, value: 1 },
        once,
      );
      lengths.push(response.currentStreak.length);
    }
    return { ids: people.map((person) => person.id), lengths };
  },

  // After the test reset user c: rankings, a freeze grant and a restore.
  async streakRankings() {
    const active = await client.streaks.rankings({}, once);
    const longest = await client.streaks.rankings({ type: "longest", limit: 100 }, once);
    const top = await client.streaks.rankings({ type: "active", limit: 1 }, once);
    const freezes = await client.admin.streaks.freezes.create(
      { freezes: [{ userId: `${run}-streak-a` }, { userId: `${run}-ghost` }] },
      once,
    );
    const restored = await client.admin.streaks.restore(
      { users: [{ id: `${run}-streak-c` }, { id: `${run}-streak-a` }] },
      once,
    );
    const afterRestore = await client.streaks.rankings({ type: "active" }, once);
    const badLimit = await failure(() => client.streaks.rankings({ limit: 0 }, once));
    return { active, longest, top, freezes, restored, afterRestore, badLimit };
  },
};

async function main() {
  const name = process.argv[2];
  if (!Object.hasOwn(scenarios, name)) {
    throw new Error(`usage: node scenario.cjs ${Object.keys(scenarios).join("|")}`);
  }
  process.stdout.write(JSON.stringify(await scenarios[name]()));
}

main().catch((error) => {
  process.stderr.write(`${(error && error.stack) || error}\n`);
  if (error && error.body !== undefined) {
    process.stderr.write(`body: ${JSON.stringify(error.body)}\n`);
  }
  process.exitCode = 1;
});
