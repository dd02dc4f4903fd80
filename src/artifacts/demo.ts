/**
 * The demo's report.json: every model it trained with its eval result, the threat model and suite.
 * Each model's folder also gets an eval.json of the same schema `alp eval` writes.
 */
import { evalResultOf, type EvalData } from './eval.js';
import { arr, isObj, num, obj, str, threatOf, versionsOf, type Obj, type Threat } from './fields.js';
import { valPointOf, type ValPoint } from './train.js';

export const DEMO_SCHEMA = 'alp.demo/2';

/** One model of a demo's report.json. */
export interface DemoEntry {
  file: string;
  name: string;
  /** The sub-folder as the demo recorded it (relative to where the demo ran). */
  folder: string | null;
  config: Obj | null;
  trainSeconds: number | null;
  evalSeconds: number | null;
  validation: ValPoint | null;
  eval: EvalData | null;
  threat: Threat | null;
  suite: Obj[];
  totalSeconds: number | null;
  versions: Record<string, string>;
}

export function parseDemo(j: Obj, file: string): DemoEntry[] {
  const threat = threatOf(j['threat']);
  const suite = arr(j['suite']).filter(isObj);
  const versions = versionsOf(j['versions']);
  const totalSeconds = num(j['totalSeconds']);
  const dataset = str(j['dataset']);
  return arr(j['models']).filter(isObj).map((m, i) => {
    const ev = obj(m['eval']);
    return {
      file,
      name: str(m['name']) ?? `model ${i + 1}`,
      config: obj(m['config']),
      trainSeconds: num(m['trainSeconds']),
      evalSeconds: num(m['evalSeconds']),
      validation: valPointOf(m['validation']),
      eval: ev === null ? null : evalResultOf(ev, file, { threat: j['threat'], dataset, seconds: m['evalSeconds'], versions: j['versions'] }),
      threat, suite, totalSeconds, versions,
      folder: str(m['folder']),
    };
  });
}
