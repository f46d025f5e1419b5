// Celery's node name formatting for file names (`--logfile`, `--statedb`): %h = node name, %n = its name part,
// %d = its domain part, %i / %I = pool process index (0 / empty in the main process), %% = %.

/** Expand a file-name template for node `name@host.domain`, as Celery's node_format does. */
export function nodeFormat(template: string, nodename: string): string {
  const at = nodename.indexOf('@');
  const name = at === -1 ? nodename : nodename.slice(0, at);
  const host = at === -1 ? '' : nodename.slice(at + 1);
  const domain = host.includes('.') ? host.slice(host.indexOf('.') + 1) : '';
  return template.replace(/%([%hndiI])/g, (_, c: string) => {
    switch (c) {
      case 'h':
        return nodename;
      case 'n':
        return name;
      case 'd':
        return domain;
      case 'i':
        return '0';
      case 'I':
        return '';
      default:
        return '%';
    }
  });
}
