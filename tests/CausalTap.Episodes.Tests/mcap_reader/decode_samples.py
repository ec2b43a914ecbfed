"""Decodes one message per channel of an MCAP file the way Foxglove does: from the file's own schemas only.

Input: the JSON that `node read_mcap.mjs FILE --samples` prints (schema data and each channel's first message, base64).
For every channel it builds the message class from the schema's serialized google.protobuf.FileDescriptorSet in a
fresh descriptor pool (no CausalTap code, no generated modules), decodes the sample and prints, per topic:
schema name, the FileDescriptorSet's file names, and the message as a dict (bytes fields as {length, sha256}).
Usage: /usr/bin/python3 decode_samples.py SAMPLES.json  ->  JSON on stdout
"""
import base64
import hashlib
import json
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory


def message_class(pool, name):
    descriptor = pool.FindMessageTypeByName(name)
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def summarize_bytes(message, as_dict):
    """Replaces bytes fields (image data) by their length and sha256, recursively."""
    for field, value in message.ListFields():
        if field.type == field.TYPE_BYTES and field.label != field.LABEL_REPEATED:
            as_dict[field.name] = {"length": len(value), "sha256": hashlib.sha256(value).hexdigest()}
        elif field.type == field.TYPE_MESSAGE and field.label != field.LABEL_REPEATED:
            summarize_bytes(value, as_dict[field.name])


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        stream = json.load(f)["stream"]
    out = {}
    for channel_id, channel in stream["channels"].items():
        schema = stream["schemas"][str(channel["schemaId"])]
        if schema["encoding"] != "protobuf" or channel["messageEncoding"] != "protobuf":
            raise SystemExit(f"channel {channel['topic']}: encodings {schema['encoding']}/{channel['messageEncoding']}")
        files = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(schema["data"]))
        pool = descriptor_pool.DescriptorPool()
        for file in files.file:
            pool.AddSerializedFile(file.SerializeToString())
        cls = message_class(pool, schema["name"])
        sample = stream["perChannel"][channel_id]["firstData"]
        message = cls.FromString(base64.b64decode(sample))
        as_dict = json_format.MessageToDict(message, preserving_proto_field_name=True, including_default_value_fields=True)
        summarize_bytes(message, as_dict)
        key = channel["topic"] + "|" + schema["name"]
        out[key] = {"schema": schema["name"], "files": [file.name for file in files.file], "message": as_dict}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
