import { createMutableRegistry, fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { ProtobufSerializer, SchemaId, SchemaRegistryClient, SerdeType, type Client as SchemaRegistry } from "@confluentinc/schemaregistry";
import { Agent } from "node:http";

/**
 * Bound on one Schema Registry HTTP request: axios waits forever by default, so one response
 * that never comes would hold a publish (or a consumer's first decode) with no error. A
 * timed-out request fails the call, and its caller retries (chat's outbox relay, the consumer's
 * retry of the record).
 */
const REGISTRY_REQUEST_TIMEOUT_MS = 15_000;

/**
 * Registry requests open a connection each (no keep-alive). On Node 24 a burst of concurrent
 * requests over the default keep-alive agent was seen to lose one response now and then (the
 * registry logged the answer, the client never got it); without keep-alive it did not happen in
 * the same runs. After the first record of a topic the schema id is cached, so this costs a
 * connection per schema lookup, not per record (docs/decisions/0138-schema-registry-requests.md).
 */
const registryAgent = new Agent({ keepAlive: false });

/** Values of a topic in Schema Registry protobuf framing: written with a registered schema, read with the compiled one. */
export interface RegistryCodec {
  /** Frames a value (magic byte, schema id, message indexes), registering its schema on first use. */
  serialize<Desc extends DescMessage>(topicName: string, schema: Desc, value: MessageShape<Desc>): Promise<Buffer>;
  /** Checks the writer's type in the registry and decodes with `schema`, keeping unknown fields. */
  decode<Desc extends DescMessage>(topicName: string, schema: Desc, payload: Buffer): Promise<MessageShape<Desc>>;
}

/** The Schema Registry side of the Kafka bus (ADR 0004, ADR 0138). */
export function createRegistryCodec(url: string): RegistryCodec {
  const registry: SchemaRegistry = SchemaRegistryClient.newClient({ baseURLs: [url], createAxiosDefaults: { timeout: REGISTRY_REQUEST_TIMEOUT_MS, httpAgent: registryAgent } });
  const types = createMutableRegistry();
  const serializer = new ProtobufSerializer(registry, SerdeType.VALUE, { autoRegisterSchemas: true, registry: types });
  const writerTypes = new Map<string, Promise<string>>();
  // The first record of a topic registers (or looks up) its schema; the serializer caches the
  // id after that. Records of a batch wait for that first one instead of all asking the
  // registry at once (a publish of 45 records on a new topic was 45 concurrent requests).
  const schemaReady = new Map<string, Promise<void>>();

  return {
    async serialize(topicName, schema, value) {
      if (!types.getMessage(schema.typeName)) types.add(schema);
      const ready = schemaReady.get(topicName);
      if (ready) {
        await ready;
        return serializer.serialize(topicName, value);
      }
      const first = serializer.serialize(topicName, value);
      schemaReady.set(
        topicName,
        first.then(
          () => undefined,
          () => undefined,
        ),
      );
      // A failed first lookup is not remembered: the next record asks again.
      first.catch(() => schemaReady.delete(topicName));
      return first;
    },
    decode,
  };

  /**
   * Reads the Confluent framing, checks in the registry that the writer's message type is the
   * topic's envelope, and decodes with the compiled (reader) schema. The writer's file is read
   * in its stored form (base64 FileDescriptorProto) and not resolved with its references: that
   * is all the type check needs, and it avoids Apicurio's `format=serialized` conversion, which
   * fails on descriptors registered in binary form (docs/decisions/0004-kafka-schema-registry.md).
   */
  async function decode<Desc extends DescMessage>(topicName: string, schema: Desc, payload: Buffer): Promise<MessageShape<Desc>> {
    const id = new SchemaId("PROTOBUF");
    const bytesRead = id.fromBytes(payload);
    if (id.id === undefined) throw new Error(`record on ${topicName} has no schema id`);
    const typeName = await writerTypeName(`${topicName}-value`, id.id, id.messageIndexes ?? [0]);
    if (typeName !== schema.typeName) {
      throw new Error(`topic ${topicName} carries ${typeName}, expected ${schema.typeName}`);
    }
    return fromBinary(schema, payload.subarray(bytesRead), { readUnknownFields: true });
  }

  /** The writer's message type for a schema id; one registry lookup per id, shared by concurrent decodes. */
  function writerTypeName(subject: string, schemaId: number, indexes: number[]): Promise<string> {
    const cacheKey = `${schemaId}:${indexes.join(".")}`;
    let name = writerTypes.get(cacheKey);
    if (name === undefined) {
      name = lookUpWriterType(subject, schemaId, indexes);
      writerTypes.set(cacheKey, name);
      name.catch(() => writerTypes.delete(cacheKey));
    }
    return name;
  }

  async function lookUpWriterType(subject: string, schemaId: number, indexes: number[]): Promise<string> {
    const info = await registry.getBySubjectAndId(subject, schemaId);
    const file = fromBinary(FileDescriptorProtoSchema, Buffer.from(info.schema, "base64"));
    let messages = file.messageType;
    const path: string[] = [];
    for (const index of indexes) {
      const m = messages[index];
      if (!m) throw new Error(`schema ${schemaId} has no message at index path ${indexes.join(".")}`);
      path.push(m.name);
      messages = m.nestedType;
    }
    return [file.package, ...path].filter(Boolean).join(".");
  }
}
