import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { CLUSTER_NEEDS } from "../src/config-needs.js";
import { maskSecrets } from "../src/config-addresses.js";
import { SERVICE_NAMES } from "../src/config.js";

function problemsOf(env: Record<string, string>, service?: (typeof SERVICE_NAMES)[number]): string[] {
  try {
    loadConfig(env, service);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

describe("server addresses: every form the drivers accept", () => {
  it.each([
    "mongodb://mongo-1:27017,mongo-2:27017,mongo-3:27017/?replicaSet=rs0",
    "mongodb+srv://caas:s3cr%40t@cluster0.example.net/caas?retryWrites=true&w=majority",
    "mongodb://caas:pw@10.0.0.5:27017/caas?authSource=admin&tls=true",
    "mongodb://[::1]:27018/?directConnection=true",
  ])("CAAS_MONGO_URL=%s", (url) => {
    expect(loadConfig({ CAAS_MONGO_URL: url }).cluster.mongoUrl).toBe(url);
  });

  it.each([
    ["mongodb://mongo-1:99999", /driver accepts/],
    ["mongodb+srv://h1.example.com,h2.example.com/", /cannot have multiple service names/],
    ["mongodb+srv://cluster0.example.net:27017/", /cannot have port number/],
    ["mongodb://h/?maxPoolSize=many", /maxPoolSize/],
    ["mongodb://h/?replicaSett=rs0", /option replicasett is not supported/],
    ["http://mongo:27017", /Invalid scheme/],
  ])("CAAS_MONGO_URL=%s is refused by the driver's parser", (url, why) => {
    const problems = problemsOf({ CAAS_MONGO_URL: url });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^CAAS_MONGO_URL="/);
    expect(problems[0]).toMatch(why);
  });

  it("Kafka broker lists: host:port entries, DNS names, IPv4 and bracketed IPv6", () => {
    const brokers = "kafka-1:9092, kafka-2.internal.example:19092,10.0.0.7:9092,[fd00::7]:9092";
    expect(loadConfig({ CAAS_KAFKA_BROKERS: brokers }).cluster.kafkaBrokers).toEqual(["kafka-1:9092", "kafka-2.internal.example:19092", "10.0.0.7:9092", "[fd00::7]:9092"]);
    expect(problemsOf({ CAAS_KAFKA_BROKERS: "kafka-1:9092,kafka-2,kafka-3:70000" })).toEqual([
      'CAAS_KAFKA_BROKERS has entries "kafka-2", "kafka-3:70000" that are not host:port (e.g. kafka-1:9092,kafka-2:9092)',
    ]);
    expect(problemsOf({ CAAS_KAFKA_BROKERS: "PLAINTEXT://kafka-1:9092" })).toHaveLength(1);
  });

  it("Redis: redis:// and rediss://, with credentials and a database number", () => {
    const c = loadConfig({ CAAS_REDIS_URL: "rediss://default:pw@cache.example.com:6380/2", CAAS_REDIS_SOCKET_URL: "redis://:pw@redis-socket:6379" });
    expect(c.cluster.redisUrl).toBe("rediss://default:pw@cache.example.com:6380/2");
    expect(c.cluster.redisSocketUrl).toBe("redis://:pw@redis-socket:6379");
  });

  it("Elasticsearch and the schema registry: http(s) URLs, with credentials and a path prefix", () => {
    const c = loadConfig({ CAAS_ELASTICSEARCH_URL: "https://elastic:pw@search.example.com:9243/es", CAAS_SCHEMA_REGISTRY_URL: "https://registry.example.com/apis/ccompat/v7" });
    expect(c.cluster.elasticsearchUrl).toBe("https://elastic:pw@search.example.com:9243/es");
    expect(problemsOf({ CAAS_ELASTICSEARCH_URL: "elasticsearch:9200" })).toEqual(['CAAS_ELASTICSEARCH_URL="elasticsearch:9200" has the scheme elasticsearch:; expected http:// or https://']);
  });

  it("S3 endpoints: http(s)://host[:port]; a path is refused at start-up because minio-js would drop it", () => {
    expect(loadConfig({ CAAS_S3_ENDPOINT: "https://s3.eu-west-1.amazonaws.com" }).cluster.s3Endpoint).toBe("https://s3.eu-west-1.amazonaws.com");
    expect(loadConfig({ CAAS_S3_ENDPOINT: "http://[::1]:9000/" }).cluster.s3Endpoint).toBe("http://[::1]:9000/");
    const [problem, ...rest] = problemsOf({ CAAS_S3_ENDPOINT: "https://gw.example.com/s3" });
    expect(rest).toEqual([]);
    expect(problem).toMatch(/^CAAS_S3_ENDPOINT="https:\/\/gw.example.com\/s3" has a path or query/);
    expect(problemsOf({ CAAS_S3_PUBLIC_ENDPOINT: "https://key:secret@cdn.example.com" })).toEqual([
      'CAAS_S3_PUBLIC_ENDPOINT="https://key:***@cdn.example.com" must not carry credentials (use CAAS_S3_ACCESS_KEY and CAAS_S3_SECRET_KEY)',
    ]);
  });

  it("a problem line never repeats a password from the value", () => {
    const problems = problemsOf({
      CAAS_MONGO_URL: "mongodb://caas:hunter2-secret@mongo-1:99999/?replicaSet=rs0",
      CAAS_REDIS_URL: "http://:hunter3-secret@redis:6379",
      CAAS_CHAT_URL: "ftp://u:hunter4-secret@chat:3004",
    });
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).not.toMatch(/hunter\d-secret/);
    expect(problems.join("\n")).toContain("caas:***@mongo-1");
  });
});

describe("maskSecrets", () => {
  it.each([
    ["mongodb://u:p@h1,h2/?replicaSet=rs0", "mongodb://u:***@h1,h2/?replicaSet=rs0"],
    ["redis://:pw@redis:6379", "redis://:***@redis:6379"],
    ["redis://onlypassword@redis:6379", "redis://***@redis:6379"],
    ["mongodb://u:p@ss/w@rd@h/db", "mongodb://u:***@h/db"],
    ["http://chat-1:3004,http://chat-2:3004", "http://chat-1:3004,http://chat-2:3004"],
    ["http://a:b@x,http://c:d@y", "http://a:***@y"],
  ])("%s -> %s", (raw, masked) => {
    expect(maskSecrets(raw)).toBe(masked);
  });
});

describe("what each service needs in cluster mode", () => {
  const servers = { CAAS_MODE: "cluster", CAAS_KAFKA_BROKERS: "kafka-1:9092", CAAS_SCHEMA_REGISTRY_URL: "http://registry:8081" };

  it("every service states its needs, and each missing one is one line naming the variable", () => {
    for (const service of SERVICE_NAMES) {
      const problems = problemsOf(servers, service);
      expect(problems.length, service).toBe(CLUSTER_NEEDS[service].length);
      for (const [i, need] of CLUSTER_NEEDS[service].entries()) {
        expect(problems[i]).toBe(`${need.variable} is required for the ${service} service in cluster mode (${need.purpose})`);
      }
    }
  });

  it("reports a service's needs together with every other problem", () => {
    const problems = problemsOf({ CAAS_MODE: "cluster", CAAS_KAFKA_BROKERS: "kafka-1" }, "gateway");
    expect(problems[0]).toMatch(/^CAAS_KAFKA_BROKERS has an entry "kafka-1"/);
    expect(problems).toContain("CAAS_SCHEMA_REGISTRY_URL is required in cluster mode");
    expect(problems).toContain("CAAS_REDIS_GATEWAY_URL or CAAS_REDIS_URL is required for the gateway service in cluster mode (edge rate limits shared by every instance)");
    expect(problems.filter((p) => p.startsWith("CAAS_AUTH_URL is required"))).toHaveLength(1);
  });

  it("asks nothing more in embedded mode (the platform wires peers and stores itself)", () => {
    for (const service of SERVICE_NAMES) expect(problemsOf({}, service), service).toEqual([]);
  });
});
