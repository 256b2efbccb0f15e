import { DescEnum, DescMessage, fromJson, JsonValue, Message } from '@bufbuild/protobuf';
import { typeRegistry } from './catalog';
import { EnvelopeError } from './envelope';

/**
 * Agent input in protobuf-JSON, decoded strictly and with one leniency (docs/protocol.md, "JSON"):
 * - an unknown member is refused, naming it: a misspelt field must never pass as absent;
 * - an enum value may be its full name (`ACTION_KIND_TOOL_CALL`), its short name in any case
 *   (`tool_call`, the spelling the policy language uses) or its number;
 * - `google.protobuf.Struct` members (the arguments) are free-form JSON.
 * Binary input is refused when it carries fields this version does not know (`refuseUnknownFields`).
 */
const FREE_FORM = new Set(['google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue']);

function enumValue(e: DescEnum, value: JsonValue, path: string): JsonValue {
  if (typeof value !== 'string') return value;
  if (e.values.some((v) => v.name === value)) return value;
  const prefix = (e.sharedPrefix ?? '').toUpperCase();
  const wanted = value.toUpperCase();
  const found = e.values.find((v) => v.name === wanted || v.name === `${prefix}${wanted}`);
  if (found && found.number !== 0) return found.name;
  const names = e.values
    .filter((v) => v.number !== 0)
    .map((v) => v.name.slice(prefix.length).toLowerCase())
    .join(', ');
  throw new EnvelopeError('invalid_value', `${path}: "${value}" is not one of ${names}`, path);
}

function normalize(schema: DescMessage, json: JsonValue, path: string): JsonValue {
  if (FREE_FORM.has(schema.typeName)) return json;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new EnvelopeError('invalid_value', `${path || 'the record'} must be a JSON object`, path);
  }
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    const at = path ? `${path}.${key}` : key;
    if (!field) {
      throw new EnvelopeError('unknown_field', `${at} is not a field of ${schema.name}`, at);
    }
    const name = path ? `${path}.${field.jsonName}` : field.jsonName;
    if (value === null) {
      out[key] = value;
      continue;
    }
    if (field.fieldKind === 'enum') out[key] = enumValue(field.enum, value, name);
    else if (field.fieldKind === 'list' && field.listKind === 'enum') {
      if (!Array.isArray(value)) throw new EnvelopeError('invalid_value', `${name} must be an array`, name);
      out[key] = value.map((v) => enumValue(field.enum, v, name));
    } else if (field.fieldKind === 'message') out[key] = normalize(field.message, value, name);
    else if (field.fieldKind === 'list' && field.listKind === 'message') {
      if (!Array.isArray(value)) throw new EnvelopeError('invalid_value', `${name} must be an array`, name);
      out[key] = value.map((v) => normalize(field.message, v, name));
    } else out[key] = value;
  }
  return out;
}

/** The protobuf-JSON name of a proto field name in an error text, for the field path of a refusal. */
function fieldOfError(schema: DescMessage, message: string): string {
  const m = /field ([\w.]+)/.exec(message);
  const last = m?.[1].split('.').pop();
  const field = schema.fields.find((f) => f.name === last || f.jsonName === last);
  return field?.jsonName ?? '';
}

export function decodeAgentJson(schema: DescMessage, value: Buffer): Message {
  let json: JsonValue;
  try {
    json = JSON.parse(value.toString('utf8')) as JsonValue;
  } catch (error) {
    throw new EnvelopeError('undecodable_data', `the record is not JSON: ${(error as Error).message}`);
  }
  const normalized = normalize(schema, json, '');
  try {
    return fromJson(schema, normalized, { registry: typeRegistry });
  } catch (error) {
    const text = (error as Error).message;
    const field = fieldOfError(schema, text);
    throw new EnvelopeError('invalid_value', field ? `${field}: ${text}` : text, field);
  }
}

/** Refuses binary input with fields this version of the contract does not know. */
export function refuseUnknownFields(message: Message, path: string): void {
  const unknown = (message as { $unknown?: { no: number }[] }).$unknown;
  if (unknown && unknown.length > 0) {
    const at = path ? `${path}.#${unknown[0].no}` : `#${unknown[0].no}`;
    throw new EnvelopeError(
      'unknown_field',
      `field number ${unknown[0].no}${path ? ` of ${path}` : ''} is not part of ${message.$typeName}`,
      at,
    );
  }
  for (const [key, value] of Object.entries(message)) {
    if (key.startsWith('$') || !value || typeof value !== 'object' || Array.isArray(value)) continue;
    const nested = value as Message;
    if (typeof nested.$typeName === 'string' && !FREE_FORM.has(nested.$typeName)) {
      refuseUnknownFields(nested, path ? `${path}.${key}` : key);
    }
  }
}
