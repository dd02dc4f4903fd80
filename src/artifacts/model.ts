/** The parts of a TF.js model.json the report shows: layer and parameter counts, alp's recorded config. */
import { arr, num, obj, type Obj } from './fields.js';

export interface ModelData {
  file: string;
  layers: number | null;
  params: number | null;
  /** userDefinedMetadata.alp.config */
  config: Obj | null;
}

export function parseModel(j: Obj, file: string): ModelData {
  const topo = obj(j['modelTopology']);
  const cfg = obj(topo?.['config']) ?? obj(obj(topo?.['model_config'])?.['config']);
  const layers = Array.isArray(cfg?.['layers']) ? (cfg['layers'] as unknown[]).length : null;
  let params: number | null = null;
  for (const group of arr(j['weightsManifest'])) {
    for (const w of arr(obj(group)?.['weights'])) {
      const shape = arr(obj(w)?.['shape']).map(num);
      if (shape.some((d) => d === null)) continue;
      params = (params ?? 0) + (shape as number[]).reduce((a, d) => a * d, 1);
    }
  }
  const alp = obj(obj(j['userDefinedMetadata'])?.['alp']);
  return { file, layers, params, config: obj(alp?.['config']) };
}
