import { describe, expect, it } from 'vitest';
import { type ReportDocument, renderReport, section, toHtml, toMarkdown } from '../../src/report/report-document.js';

const doc: ReportDocument = {
  title: 'SOX compliance <b>report</b>',
  generatedAt: '2026-12-05T02:00:00.000Z',
  period: { start: '2026-11-01T00:00:00.000Z', end: '2026-12-05T02:00:00.000Z' },
  sections: [
    section('Summary', { figures: [{ label: 'score', value: '80 %' }], paragraphs: ['Assessed by <b>J. Doe</b> & team.'] }),
    section('Controls', {
      tables: [
        {
          columns: ['control', 'status', 'detail'],
          rows: [
            ['BR-04', 'fail', 'no test restore | in 90 days\nsecond line'],
            ['BR-02', 'pass', null],
          ],
        },
        { columns: ['finding'], rows: [] },
      ],
    }),
  ],
};

describe('report document', () => {
  it('renders Markdown with headings, figures and one-line table cells, escaping markup', () => {
    const md = toMarkdown(doc);
    expect(md).toMatch(/^# SOX compliance \\<b\\>report\\<\/b\\>\n/);
    expect(md).toContain('Generated 2026-12-05T02:00:00.000Z; period 2026-11-01T00:00:00.000Z to 2026-12-05T02:00:00.000Z.');
    expect(md).toContain('## Summary');
    expect(md).toContain('- **score**: 80 %');
    expect(md).toContain('| control | status | detail |');
    // A pipe would split the cell and a newline would end the row.
    expect(md).toContain('| BR-04 | fail | no test restore \\| in 90 days<br>second line |');
    expect(md).toContain('| BR-02 | pass | - |');
    expect(md).toContain('_none_');
    expect(md).not.toContain('<b>');
  });

  it('renders one self-contained HTML page: inline CSS, no script, no URL, every string escaped', () => {
    const html = toHtml(doc);
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toContain('<b>');
    expect(html).toContain('<title>SOX compliance &lt;b&gt;report&lt;/b&gt;</title>');
    expect(html).toContain('Assessed by &lt;b&gt;J. Doe&lt;/b&gt; &amp; team.');
    expect(html).toContain('<td>no test restore | in 90 days<br>second line</td>');
    expect(html).toContain('<p class="none">none</p>');
  });

  it('JSON is the document itself', () => {
    expect(JSON.parse(renderReport(doc, 'json'))).toEqual(doc);
  });
});
