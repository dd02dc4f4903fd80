/**
 * The report's charts: Vega-Lite specs built from plain rows, compiled and rendered to SVG in Node
 * (Vega's headless view, no canvas), so the page embeds them inline and needs no script to show them.
 * Each model keeps one colour across every chart.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#ff9da6', '#bab0ac'];

export const CHART_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

export interface SweepRow {
  model: string;
  eps: number;
  robustAccuracy: number;
}

export interface AttackRow {
  model: string;
  /** x-axis category: 'clean', an attack's name, or 'worst case'. */
  attack: string;
  accuracy: number;
}

export interface CascadeRow {
  model: string;
  stage: string;
  accuracy: number;
}

export interface LossRow {
  model: string;
  /** 1-based. */
  epoch: number;
  component: string;
  loss: number;
}

export interface ValRow {
  model: string;
  step: number;
  metric: 'clean' | 'robust';
  accuracy: number;
}

const CONFIG = {
  font: CHART_FONT,
  background: 'white',
  padding: 6,
  view: { stroke: '#e3e3e3' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, gridColor: '#eeeeee', domainColor: '#888', tickColor: '#888', labelColor: '#333', titleColor: '#222' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 220, orient: 'bottom', direction: 'horizontal', columns: 4 },
  title: { fontSize: 13, anchor: 'start', color: '#222' },
} as const;

/** Models in a chart and their colours (each model keeps its colour across charts). */
export interface Colours {
  domain: string[];
  range: string[];
}

/** Colours for `models` in palette order. */
export function paletteColours(models: string[]): Colours {
  return { domain: models, range: models.map((_, i) => PALETTE[i % PALETTE.length] as string) };
}

function colour(c: Colours): Record<string, unknown> {
  return { field: 'model', type: 'nominal', title: 'model', scale: { domain: c.domain, range: c.range } };
}

const PERCENT_AXIS = { format: '.0%' };

/** Legend entries drawn as line segments, so the dash pattern shows. */
const DASH_LEGEND = { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 320, encode: { symbols: { update: { stroke: { value: '#444' } } } } };

/** What every chart has: the Vega-Lite schema, a description, its size, the shared config, `rows` as data. */
function chartSpec(description: string, width: number, height: number, rows: unknown[], rest: Record<string, unknown>): TopLevelSpec {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', description, width, height, config: CONFIG, data: { values: rows }, ...rest } as unknown as TopLevelSpec;
}

/** The training charts' line: thinner than the evaluation charts'. */
const TRAINING_LINE = { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 2 };

/** Robust accuracy against ε, one line per model; a dashed rule marks the evaluated ε when there is one. */
export function sweepSpec(rows: SweepRow[], models: Colours, evaluatedEps: number | null): TopLevelSpec {
  const line = {
    mark: { type: 'line', point: { filled: true, size: 45 }, strokeWidth: 2.25 },
    encoding: {
      x: { field: 'eps', type: 'quantitative', title: 'ε (perturbation radius)' },
      y: { field: 'robustAccuracy', type: 'quantitative', title: 'robust accuracy', scale: { domain: [0, 1] }, axis: PERCENT_AXIS },
      color: colour(models),
    },
  };
  const layers: unknown[] = [line];
  if (evaluatedEps !== null) {
    layers.unshift(
      { data: { values: [{ eps: evaluatedEps }] }, mark: { type: 'rule', strokeDash: [4, 4], color: '#999' }, encoding: { x: { field: 'eps', type: 'quantitative' } } },
      {
        data: { values: [{ eps: evaluatedEps, label: `evaluated ε = ${evaluatedEps}` }] },
        mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#777', fontSize: 10 },
        encoding: { x: { field: 'eps', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
      },
    );
  }
  return chartSpec('Robust accuracy against perturbation radius, one line per model', 440, 260, rows, {
    layer: layers,
  });
}

/** Accuracy per attack, bars grouped by attack with one bar per model, labelled with the value. */
export function attackBarsSpec(rows: AttackRow[], models: Colours, attacks: string[]): TopLevelSpec {
  const step = Math.max(16, Math.min(34, Math.floor(160 / Math.max(models.domain.length, 1))));
  const x = { field: 'attack', type: 'nominal', title: null, sort: attacks, axis: { labelAngle: 0, labelLimit: 150 } };
  const y = { field: 'accuracy', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1] }, axis: PERCENT_AXIS };
  // Wide enough per group for its label (Vega measures text roughly without a canvas).
  const width = attacks.length * Math.max(step * models.domain.length + 24, 7 * Math.max(...attacks.map((a) => a.length)) + 18);
  return chartSpec('Accuracy under each attack, grouped by attack, one bar per model', width, 260, rows, {
    transform: [{ calculate: "format(datum.accuracy, '.0%')", as: 'label' }],
    encoding: { x, xOffset: { field: 'model', type: 'nominal', sort: models.domain }, y },
    layer: [
      { mark: { type: 'bar', cornerRadiusTopLeft: 2, cornerRadiusTopRight: 2 }, encoding: { color: colour(models) } },
      { mark: { type: 'text', dy: -5, fontSize: 9.5, color: '#333' }, encoding: { text: { field: 'label' } } },
    ],
  });
}

/** The audit cascade: robust accuracy after each attack (and every one before it). */
export function cascadeSpec(rows: CascadeRow[], models: Colours, stages: string[]): TopLevelSpec {
  return chartSpec('Robust accuracy after each stage of the audit attack cascade', Math.max(320, 110 * stages.length), 240, rows, {
    mark: { type: 'line', point: { filled: true, size: 45 }, strokeWidth: 2.25, interpolate: 'step-after' },
    encoding: {
      x: { field: 'stage', type: 'ordinal', sort: stages, title: 'after attack (cumulative)', axis: { labelAngle: 0, labelLimit: 150 } },
      y: { field: 'accuracy', type: 'quantitative', title: 'robust accuracy', scale: { domain: [0, 1] }, axis: PERCENT_AXIS },
      color: colour(models),
    },
  });
}

/** Mean training loss per epoch; solid total loss, dashed components. */
export function lossSpec(rows: LossRow[], models: Colours, components: string[]): TopLevelSpec {
  return chartSpec('Mean training loss per epoch, total and its parts, per model', 440, 240, rows, {
    mark: TRAINING_LINE,
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'loss', type: 'quantitative', title: 'mean loss', scale: { zero: true } },
      color: colour(models),
      strokeDash: { field: 'component', type: 'nominal', title: 'term', sort: components, legend: DASH_LEGEND },
      detail: { field: 'component' },
    },
  });
}

/** Validation accuracy during training: clean solid, robust dashed. */
export function validationSpec(rows: ValRow[], models: Colours): TopLevelSpec {
  return chartSpec('Clean and robust validation accuracy per evaluation step, per model', 440, 240, rows, {
    mark: TRAINING_LINE,
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'training step' },
      y: { field: 'accuracy', type: 'quantitative', title: 'validation accuracy', scale: { domain: [0, 1] }, axis: PERCENT_AXIS },
      color: colour(models),
      strokeDash: { field: 'metric', type: 'nominal', title: 'accuracy', sort: ['clean', 'robust'], legend: DASH_LEGEND },
    },
  });
}

/** Compiles a Vega-Lite spec and renders it to an SVG string, headless (no canvas, no DOM). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vgSpec = compile(spec, { logger: vega.logger(vega.Error) }).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none', logger: vega.logger(vega.Error) });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
