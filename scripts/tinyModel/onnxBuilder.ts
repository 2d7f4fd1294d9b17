/**
 * A small ONNX graph builder on top of onnx-proto: nodes with auto-named outputs, float
 * initializers, deduplicated int64/float constants, typed graph inputs and outputs, and
 * serialization to model bytes. Knows nothing about Llama.
 */
import pkg from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { float32Bytes } from './safetensors.ts';

// onnx-proto is CommonJS: a named ESM import of `onnx` fails at run time.
const { onnx } = pkg;

export const ElementType = {
  FLOAT: onnx.TensorProto.DataType.FLOAT,
  INT64: onnx.TensorProto.DataType.INT64,
  BOOL: onnx.TensorProto.DataType.BOOL,
} as const;

/** A dimension: a number is fixed, a string is a symbolic (named) dimension. */
export type Dim = number | string;

export function intAttribute(name: string, value: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

export function intsAttribute(name: string, values: readonly number[]): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...values] };
}

export function tensorValueInfo(name: string, elemType: number, dims: readonly Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  };
}

export interface OpOptions {
  attributes?: OnnxTypes.IAttributeProto[];
  /** Name of the single output; auto-generated when omitted. */
  output?: string;
}

export interface ModelMetadata {
  irVersion: number;
  opsetVersion: number;
  producerName: string;
  inputs: OnnxTypes.IValueInfoProto[];
  outputs: OnnxTypes.IValueInfoProto[];
}

export class OnnxGraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly constantNames = new Map<string, string>();
  private nodeCount = 0;

  /** Adds a single-output node and returns the name of its output. */
  op(opType: string, inputs: readonly string[], options: OpOptions = {}): string {
    const id = this.nodeCount++;
    const output = options.output ?? `${opType}_${id}`;
    this.nodes.push({ opType, name: `${opType}_node_${id}`, input: [...inputs], output: [output], attribute: options.attributes ?? [] });
    return output;
  }

  floatInitializer(name: string, dims: readonly number[], data: Float32Array): string {
    this.initializers.push({ name, dims: [...dims], dataType: ElementType.FLOAT, rawData: float32Bytes(data) });
    return name;
  }

  /** An int64 constant (a 1-D tensor unless `scalar`), shared by every node that uses the same value. */
  int64Constant(values: readonly number[], scalar = false): string {
    const dims = scalar ? [] : [values.length];
    return this.constant(`i64:${scalar}:${values.join(',')}`, () => ({
      dims,
      dataType: ElementType.INT64,
      rawData: new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer),
    }));
  }

  floatScalarConstant(value: number): string {
    return this.constant(`f32:${value}`, () => ({ dims: [], dataType: ElementType.FLOAT, rawData: float32Bytes(Float32Array.of(value)) }));
  }

  /** Serializes the graph as a complete ModelProto. */
  encodeModel(metadata: ModelMetadata): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: metadata.irVersion,
      producerName: metadata.producerName,
      opsetImport: [{ domain: '', version: metadata.opsetVersion }],
      graph: {
        name: 'main',
        node: this.nodes,
        initializer: this.initializers,
        input: metadata.inputs,
        output: metadata.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private constant(key: string, build: () => OnnxTypes.ITensorProto): string {
    const existing = this.constantNames.get(key);
    if (existing) return existing;
    const name = `const_${this.constantNames.size}`;
    this.initializers.push({ ...build(), name });
    this.constantNames.set(key, name);
    return name;
  }
}
