/**
 * Whether a scroll box's content is wider than the box, kept up to date as either resizes: a
 * table or chart in its own scroll box says "scroll sideways" only when there is something to
 * scroll to (on a phone, not on a desktop). A Svelte attachment (`{@attach watchOverflow(set)}`).
 */
export function watchOverflow(onChange: (overflowing: boolean) => void): (node: HTMLElement) => () => void {
  return (node) => {
    let last: boolean | undefined;
    const check = () => {
      const overflowing = node.scrollWidth > node.clientWidth + 1;
      if (overflowing !== last) onChange((last = overflowing));
    };
    const observer = new ResizeObserver(check);
    observer.observe(node);
    for (const child of node.children) observer.observe(child);
    // Rows arriving (a run being scored) widen the content without resizing the box.
    const mutations = new MutationObserver(check);
    mutations.observe(node, { childList: true, subtree: true, characterData: true });
    check();
    return () => {
      observer.disconnect();
      mutations.disconnect();
    };
  };
}
