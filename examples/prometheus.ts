/**
 * `npm run example:prometheus`: costs and tokens as OpenTelemetry metrics, scraped by Prometheus. Registering a
 * meter provider is all it takes: every metered call then records `gen_ai.client.token.usage` and
 * `langchain_metered.client.cost`, and budget decisions count. Offline against the loopback OpenAI-compatible
 * server in test/support (set OPENAI_API_KEY to use the real API); the metrics are served on
 * http://127.0.0.1:9464/metrics while it runs, and printed at the end.
 */
import { metrics } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { configureMetrics, MeteredChatModel } from "langchain-metered";
import { startFakeOpenAI } from "./offline.js";

const exporter = new PrometheusExporter({ host: "127.0.0.1", port: 9464 });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));
// Opt in to one bounded metadata key as a label (each tenant is a series of its own).
configureMetrics({ metadataAttributes: ["tenant"] });

const live = Boolean(process.env.OPENAI_API_KEY);
const server = live ? undefined : await startFakeOpenAI();
const connection = server ? { apiKey: "offline", configuration: { baseURL: server.url } } : {};

try {
  const model = new MeteredChatModel({ model: "gpt-4o-mini", ...connection });
  for (const tenant of ["acme", "acme", "globex"]) await model.invoke("Say hello in five words.", { metadata: { tenant } });
  const text = await (await fetch("http://127.0.0.1:9464/metrics")).text();
  console.log(text.split("\n").filter((line) => /^(gen_ai_client_token_usage_(sum|count)|langchain_metered_client_cost)/.test(line)).join("\n"));
} finally {
  await exporter.shutdown();
  await server?.close();
}
